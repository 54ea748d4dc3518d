"""`python -m training.engine generate`: the tiny local model (plain and with a LoRA adapter) and a fake
OpenAI-compatible server on localhost; a failing prompt gives one error line and the others go on."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.training.engine.conftest import engine, spec_write
from training.engine.generate import GenerateSpecError, generate_run, generate_spec_parse


def prompts_write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def lines_read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


PROMPTS = [
    {"prompt_id": 1, "messages": [{"role": "user", "content": "What is two plus two?"}]},
    {"prompt_id": 2, "messages": "not a list of messages"},
    {"prompt_id": 3, "messages": [{"role": "user", "content": "Explain photosynthesis."}]},
]


def test_local_model_writes_k_samples_per_prompt_and_an_error_line(tiny_model: Path, tmp_path: Path) -> None:
    spec = {
        "model": str(tiny_model),
        "prompts_file": str(prompts_write(tmp_path / "prompts.jsonl", PROMPTS)),
        "output_file": str(tmp_path / "out.jsonl"),
        "k": 2,
        "temperature": 0.9,
        "top_p": 0.95,
        "max_new_tokens": 6,
        "batch_size": 2,
        "seed": 3,
    }
    done = engine("generate", str(spec_write(tmp_path / "spec.json", spec)))
    assert done.returncode == 0, done.stderr
    lines = lines_read(tmp_path / "out.jsonl")
    samples = [line for line in lines if "text" in line]
    assert sorted((s["prompt_id"], s["sample"]) for s in samples) == [(1, 0), (1, 1), (3, 0), (3, 1)]
    assert all(s["model"] == str(tiny_model) and s["params"]["temperature"] == 0.9 for s in samples)
    assert all(s["params"] == {**s["params"], "top_p": 0.95, "max_new_tokens": 6, "seed": 3} for s in samples)
    [error] = [line for line in lines if "error" in line]
    assert error["prompt_id"] == 2 and "messages" in error["error"]
    assert json.loads(done.stdout.splitlines()[-1])["errors"] == 1

    again = engine("generate", str(spec_write(tmp_path / "spec.json", spec)))
    assert again.returncode == 0
    assert lines_read(tmp_path / "out.jsonl") == lines, "the same seed gives the same samples"


def test_lora_adapter_is_applied_to_its_base(tiny_model: Path, tmp_path: Path) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    adapter = tmp_path / "final"
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model))
    get_peft_model(base, LoraConfig(r=2, target_modules=["q_proj", "v_proj"])).save_pretrained(adapter)
    assert not (adapter / "tokenizer.json").exists()
    spec = {
        "model": str(adapter),
        "prompts_file": str(prompts_write(tmp_path / "prompts.jsonl", PROMPTS[:1])),
        "output_file": str(tmp_path / "out.jsonl"),
        "k": 1,
        "max_new_tokens": 4,
    }
    assert generate_run(generate_spec_parse(spec)) == {"prompts": 1, "samples": 1, "errors": 0}
    [line] = lines_read(tmp_path / "out.jsonl")
    assert line["model"] == str(adapter) and isinstance(line["text"], str)


class FakeOpenAI(BaseHTTPRequestHandler):
    """/v1/chat/completions that answers one choice per request (ignoring n, as some servers do), wants
    the API key, and fails for a prompt containing "boom"."""

    requests: list[dict[str, Any]] = []
    api_key: str | None = "sk-test"

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeOpenAI.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
        content = body["messages"][-1]["content"]
        if self.api_key and self.headers.get("Authorization") != f"Bearer {self.api_key}":
            self._reply(401, {"error": {"message": "bad key"}})
        elif "boom" in content:
            self._reply(500, {"error": {"message": "model crashed"}})
        else:
            text = f"{body['model']} says {content} #{body['seed']}"
            self._reply(200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]})

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake_openai() -> Iterator[str]:
    FakeOpenAI.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_http_endpoint_backend(fake_openai: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_KEY", "sk-test")
    prompts = [
        {"prompt_id": "a", "messages": [{"role": "user", "content": "hello"}]},
        {"prompt_id": "b", "messages": [{"role": "user", "content": "boom"}]},
        {"prompt_id": "c", "messages": [{"role": "user", "content": "bye"}]},
    ]
    spec = generate_spec_parse(
        {
            "endpoint": {"base_url": fake_openai, "model": "served-model", "api_key_env": "FAKE_KEY"},
            "prompts_file": str(prompts_write(tmp_path / "prompts.jsonl", prompts)),
            "output_file": str(tmp_path / "out.jsonl"),
            "k": 2,
            "temperature": 0.7,
            "max_new_tokens": 20,
            "seed": 10,
        }
    )
    assert generate_run(spec) == {"prompts": 3, "samples": 4, "errors": 1}
    lines = lines_read(tmp_path / "out.jsonl")
    assert [line.get("text") for line in lines if line["prompt_id"] == "a"] == [
        "served-model says hello #10",
        "served-model says hello #11",
    ]
    [error] = [line for line in lines if line["prompt_id"] == "b"]
    assert "HTTP 500" in error["error"] and "model crashed" in error["error"]
    assert lines[0]["model"] == "served-model" and lines[0]["params"]["backend"] == "http"
    first = FakeOpenAI.requests[0]
    assert first["path"] == "/v1/chat/completions" and first["auth"] == "Bearer sk-test"
    assert (first["n"], first["temperature"], first["max_tokens"]) == (2, 0.7, 20)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"model": ""}, "exactly one of model"),
        ({"endpoint": {"base_url": "http://x", "model": "m"}}, "exactly one of model"),
        ({"k": 0}, "k must be"),
        ({"temperature": -1}, "temperature must be"),
        ({"colour": "red"}, "unknown field"),
        ({"top_p": 0}, "^top_p must be above 0$"),
        ({"model": "", "endpoint": {"base_url": "http://x"}}, "^endpoint needs base_url and model$"),
        ({"model": "", "endpoint": {"base_url": "u", "model": "m", "x": 1}}, "^unknown endpoint field"),
        ({"prompts_file": ""}, "^prompts_file is required \\(a path\\)$"),
    ],
)
def test_invalid_specs_are_refused(change: dict[str, Any], message: str) -> None:
    spec = {"model": "m", "prompts_file": "p.jsonl", "output_file": "o.jsonl", **change}
    with pytest.raises(GenerateSpecError, match=message):
        generate_spec_parse(spec)


def test_the_spec_echoed_keeps_the_endpoint_as_given() -> None:
    paths = {"prompts_file": "p.jsonl", "output_file": "o.jsonl"}
    endpoint = {"base_url": "http://x", "model": "served"}
    assert generate_spec_parse({**paths, "endpoint": endpoint}).model_dump()["endpoint"] == endpoint
    assert generate_spec_parse({**paths, "model": "m"}).model_dump()["endpoint"] == {}


def test_cli_exits_2_for_an_invalid_spec(tmp_path: Path) -> None:
    done = engine("generate", str(spec_write(tmp_path / "spec.json", {"model": "m"})))
    assert done.returncode == 2 and "invalid spec" in done.stderr
