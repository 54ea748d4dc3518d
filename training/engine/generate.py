"""`python -m training.engine generate SPEC.json`: k sampled completions per prompt, as JSON lines.

The spec names either a local model ("model": HF id, local path, or a run's final/ LoRA adapter, which
is applied to its base) or an OpenAI-compatible HTTP endpoint ("endpoint": {"base_url", "model",
"api_key_env"}, e.g. vLLM or TGI). Prompts come from a JSONL file of {"prompt_id", "messages"}.
Every (prompt, sample) becomes one line {"prompt_id", "sample", "text", "model", "params"} of the
output file, written as soon as its prompt is done (the supervisor tails it for progress); a prompt
that fails becomes one line {"prompt_id", "error"} and the others go on.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, TextIO

from annotated_types import MinLen
from pydantic import (
    BaseModel,
    ConfigDict,
    StrictStr,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)

from training.engine.items import batches, error_text, messages_check
from training.engine.jsonl import records_read
from training.engine.schema import (
    PATH_REQUIRED,
    RequiredPath,
    command_spec_message,
    errors_read,
    integer_between,
    number_between,
    reason_error,
    says,
    unknown_names,
)

HTTP_TIMEOUT_S = 120.0


class GenerateSpecError(ValueError):
    """The generation spec or its prompts file is not usable."""


class Endpoint(BaseModel):
    """An OpenAI-compatible server: its base URL, the served model's name, and the environment variable
    that holds its API key (none: no key sent)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: Annotated[StrictStr, MinLen(1)]
    model: Annotated[StrictStr, MinLen(1)]
    api_key_env: StrictStr | None = None


class GenerateSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    prompts_file: RequiredPath
    output_file: RequiredPath
    model: Annotated[StrictStr, says("must be a string (an HF id or a path)")] = ""
    endpoint: Endpoint | None = None
    k: integer_between(1, 64) = 2
    temperature: number_between(0.0, 5.0) = 1.0
    top_p: number_between(0.0, 1.0) = 1.0
    max_new_tokens: integer_between(1, 32768) = 64
    batch_size: integer_between(1, 4096) = 8
    seed: integer_between(0, 2**32 - 1) = 0

    @model_validator(mode="before")
    @classmethod
    def _unset_sources_dropped(cls, data: Any) -> Any:
        """An empty (or null) model or endpoint is not given."""
        if not isinstance(data, dict):
            return data
        return {name: value for name, value in data.items() if value or name not in ("model", "endpoint")}

    @field_validator("top_p")
    @classmethod
    def _top_p_above_zero(cls, value: float) -> float:
        if value == 0.0:
            raise reason_error("must be above 0")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> GenerateSpec:
        if bool(self.model) == (self.endpoint is not None):
            raise reason_error("give exactly one of model (HF id or path) and endpoint")
        return self

    @field_serializer("endpoint")
    def _endpoint_as_given(self, endpoint: Endpoint | None) -> dict[str, Any]:
        return endpoint.model_dump(exclude_unset=True) if endpoint else {}

    @property
    def source_name(self) -> str:
        return self.endpoint.model if self.endpoint else self.model

    def params(self) -> dict[str, Any]:
        """The sampling parameters recorded on every sample."""
        return {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_new_tokens": self.max_new_tokens,
            "seed": self.seed,
            "backend": "http" if self.endpoint else "local",
        }


def generate_spec_parse(raw: dict[str, Any]) -> GenerateSpec:
    """Validates a spec dict (types, ranges, exactly one source); raises GenerateSpecError."""
    if not isinstance(raw, dict):
        raise GenerateSpecError("the spec must be a JSON object")
    try:
        return GenerateSpec.model_validate(raw)
    except ValidationError as exc:
        errors = errors_read(exc, missing=PATH_REQUIRED)
    first = errors[0]
    if first.path.split(".")[0] == "endpoint":
        endpoint = [error for error in errors if error.path.split(".")[0] == "endpoint"]
        if not all(error.unknown for error in endpoint):
            raise GenerateSpecError("endpoint needs base_url and model")
        raise GenerateSpecError(f"unknown endpoint field(s): {unknown_names(endpoint)}")
    raise GenerateSpecError(command_spec_message(errors))


def prompts_read(path: str | Path) -> list[dict[str, Any]]:
    """The prompts file's records; raises GenerateSpecError naming the first bad line."""
    return records_read(
        path, name="prompts_file", required=("prompt_id", "messages"), error=GenerateSpecError
    )


class LocalBackend:
    """A transformers causal LM (LoRA adapters merged in), sampling batches of prompts."""

    def __init__(self, spec: GenerateSpec) -> None:
        import torch

        from training.engine.loading import model_load_causal_lm, tokenizer_load, tokenizer_path

        self.spec = spec
        self.torch = torch
        self.tokenizer = tokenizer_load(tokenizer_path(spec.model))
        self.tokenizer.padding_side = "left"
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.bfloat16 if self.device == "cuda" and torch.cuda.is_bf16_supported() else None
        self.model = model_load_causal_lm(spec.model, dtype=dtype).to(self.device).eval()
        torch.manual_seed(spec.seed)

    def generate(self, batch: list[dict[str, Any]]) -> list[list[str] | Exception]:
        """k texts per prompt of the batch, or the exception that prompt raised."""
        from training.engine.generation import prompt_ids

        results: list[list[str] | Exception] = [ValueError("not generated")] * len(batch)
        encoded: list[tuple[int, list[int]]] = []
        for index, record in enumerate(batch):
            try:
                messages_check(record["messages"])
                encoded.append((index, prompt_ids(self.tokenizer, record["messages"])))
            except Exception as exc:  # noqa: BLE001 - one bad prompt must not stop the others
                results[index] = exc
        if not encoded:
            return results
        try:
            for (index, _), texts in zip(encoded, self._sample([ids for _, ids in encoded]), strict=True):
                results[index] = texts
        except Exception:  # noqa: BLE001 - the batch failed: retry alone to find the culprit
            for index, ids in encoded:
                try:
                    results[index] = self._sample([ids])[0]
                except Exception as exc:  # noqa: BLE001
                    results[index] = exc
        return results

    def _sample(self, id_lists: list[list[int]]) -> list[list[str]]:
        torch, spec = self.torch, self.spec
        padded = self.tokenizer.pad({"input_ids": id_lists}, return_tensors="pt").to(self.device)
        sampling = spec.temperature > 0
        with torch.no_grad():
            output = self.model.generate(
                **padded,
                max_new_tokens=spec.max_new_tokens,
                do_sample=sampling,
                temperature=spec.temperature if sampling else None,
                top_p=spec.top_p if sampling else None,
                top_k=0 if sampling else None,
                # Greedy decoding gives one text per prompt: it is repeated k times below.
                num_return_sequences=spec.k if sampling else 1,
                pad_token_id=self.tokenizer.pad_token_id,
                eos_token_id=self.tokenizer.eos_token_id,
            )
        width = padded["input_ids"].shape[1]
        texts = self.tokenizer.batch_decode(output[:, width:], skip_special_tokens=True)
        if not sampling:
            return [[text] * spec.k for text in texts]
        return [texts[i * spec.k : (i + 1) * spec.k] for i in range(len(id_lists))]


class HttpBackend:
    """An OpenAI-compatible server's /v1/chat/completions, one request (n = k) per prompt."""

    def __init__(self, spec: GenerateSpec) -> None:
        import requests

        self.spec = spec
        self.session = requests.Session()
        key_env = spec.endpoint.api_key_env or ""
        key = os.environ.get(key_env, "") if key_env else ""
        if key:
            self.session.headers["Authorization"] = f"Bearer {key}"
        base = spec.endpoint.base_url.rstrip("/")
        self.url = base + ("/chat/completions" if base.endswith("/v1") else "/v1/chat/completions")

    def generate(self, batch: list[dict[str, Any]]) -> list[list[str] | Exception]:
        results: list[list[str] | Exception] = []
        for record in batch:
            try:
                messages_check(record["messages"])
                results.append(self._complete(record["messages"]))
            except Exception as exc:  # noqa: BLE001 - one failed prompt must not stop the others
                results.append(exc)
        return results

    def _complete(self, messages: list[dict[str, Any]]) -> list[str]:
        spec = self.spec
        texts: list[str] = []
        while len(texts) < spec.k:  # some servers ignore n: ask again for the rest
            body = {
                "model": spec.endpoint.model,
                "messages": messages,
                "n": spec.k - len(texts),
                "temperature": spec.temperature,
                "top_p": spec.top_p,
                "max_tokens": spec.max_new_tokens,
                "seed": spec.seed + len(texts),
            }
            response = self.session.post(self.url, json=body, timeout=HTTP_TIMEOUT_S)
            if response.status_code != 200:
                raise RuntimeError(f"HTTP {response.status_code} from the endpoint: {response.text[:300]}")
            choices = response.json().get("choices") or []
            if not choices:
                raise RuntimeError("the endpoint returned no choices")
            texts += [choice["message"]["content"] or "" for choice in choices][: spec.k - len(texts)]
        return texts


def generate_run(spec: GenerateSpec) -> dict[str, int]:
    """Generates for every prompt, appending lines to output_file; returns counts of prompts, samples
    and errors. Raises GenerateSpecError for an unreadable prompts file."""
    prompts = prompts_read(spec.prompts_file)
    backend = HttpBackend(spec) if spec.endpoint else LocalBackend(spec)
    counts = {"prompts": len(prompts), "samples": 0, "errors": 0}
    output = Path(spec.output_file)
    output.parent.mkdir(parents=True, exist_ok=True)
    params = spec.params()
    with output.open("w", encoding="utf-8") as out:
        for batch in batches(prompts, spec.batch_size):
            for record, result in zip(batch, backend.generate(batch), strict=True):
                _write_result(out, record["prompt_id"], result, spec.source_name, params, counts)
            out.flush()
    return counts


def _write_result(
    out: TextIO, prompt_id: Any, result: list[str] | Exception, model: str, params: dict, counts: dict
) -> None:
    if isinstance(result, Exception):
        counts["errors"] += 1
        out.write(json.dumps({"prompt_id": prompt_id, "error": error_text(result)}) + "\n")
        return
    for sample, text in enumerate(result):
        counts["samples"] += 1
        line = {"prompt_id": prompt_id, "sample": sample, "text": text, "model": model, "params": params}
        out.write(json.dumps(line) + "\n")


def generate_main(spec_path: str) -> int:
    """CLI entry: 0 done (some prompts may have error lines), 2 invalid spec, 1 backend failure."""
    import sys

    try:
        raw = json.loads(Path(spec_path).read_text(encoding="utf-8"))
        spec = generate_spec_parse(raw)
        counts = generate_run(spec)
    except (OSError, json.JSONDecodeError, GenerateSpecError) as exc:
        print(f"invalid spec: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"event": "end", **counts, "spec": spec.model_dump()}))
    return 0
