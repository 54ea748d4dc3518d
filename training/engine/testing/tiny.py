"""Builds a randomly initialised Llama-shaped causal LM and a byte-level BPE tokenizer with a chat template.

Two sizes: "tiny" (2 layers, hidden 64), which tests and the demo use, and "0.5b" (24 layers, hidden 1024,
~0.47B parameters with a 32k vocabulary), the GPU check of bench/engine_throughput.py. Nothing is
downloaded: the tokenizer is trained on a small built-in corpus and the weights are randomly initialised
from a fixed seed. Every loading path in Rankwise accepts any HF model id or local path in their place.

`python -m training.engine.testing.tiny DIR [--size 0.5b] [--seed N]` builds one from the command line
(`manage.py build_tiny_model` runs it so that Django never imports torch).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|pad|>", "<|bos|>", "<|end|>", "<|system|>", "<|user|>", "<|assistant|>"]

_CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Write a function that returns the sum of a list of numbers in Python.",
    "def add(a, b):\n    return a + b\n",
    "The capital of France is Paris. The capital of Japan is Tokyo.",
    "A good answer is clear, correct, polite and helpful; a bad answer is vague or wrong.",
    "| name | value |\n| --- | --- |\n| a | 1 |",
    "Please explain how photosynthesis works in simple terms.",
    "Sure! Here is a short summary with three points: first, second, third.",
    "I am sorry, I cannot help with that request.",
    "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 + - * / = ( ) [ ] { } < > # ` ~",
    "Human: What is two plus two?\n\nAssistant: Two plus two is four.",
]


def build_tokenizer(vocab_size: int = 512):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_CORPUS * 20, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<|bos|>",
        eos_token="<|end|>",
        pad_token="<|pad|>",
        unk_token=None,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


# The Llama shapes by size. vocab_size None: the tokenizer's own (512). The 0.5b model's 32k embedding and LM
# head cost what a real model's do, though the tiny tokenizer only ever produces its first 512 ids.
SIZES: dict[str, dict[str, int | None]] = {
    "tiny": {"hidden_size": 64, "layers": 2, "intermediate_size": 128, "heads": 4, "vocab_size": None},
    "0.5b": {"hidden_size": 1024, "layers": 24, "intermediate_size": 4096, "heads": 16, "vocab_size": 32000},
}


def build_tiny_model(output_dir: str | Path, *, seed: int = 0, size: str = "tiny") -> Path:
    """Writes the model of `size` (a key of SIZES) and the tokenizer to `output_dir` (skipped when that
    model is already there) and returns the directory."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    shape = SIZES[size]
    output = Path(output_dir)
    marker = output / "rankwise-tiny.json"
    spec = {"seed": seed, "size": size, **shape, "version": 2}
    if marker.exists() and json.loads(marker.read_text()) == spec:
        return output
    output.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer()
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=shape["vocab_size"] or len(tokenizer),
        hidden_size=shape["hidden_size"],
        intermediate_size=shape["intermediate_size"],
        num_hidden_layers=shape["layers"],
        num_attention_heads=shape["heads"],
        num_key_value_heads=shape["heads"],
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(output)
    tokenizer.save_pretrained(output)
    marker.write_text(json.dumps(spec))
    return output


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build a local Llama-shaped model and tokenizer.")
    parser.add_argument("output_dir", help="directory to write the model and tokenizer to")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    args = parser.parse_args(argv)
    print(build_tiny_model(args.output_dir, seed=args.seed, size=args.size))


if __name__ == "__main__":
    main()
