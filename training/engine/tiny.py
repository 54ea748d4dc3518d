"""Builds a tiny Llama-shaped causal LM and a byte-level BPE tokenizer with a chat template.

Nothing is downloaded: the tokenizer is trained on a small built-in corpus and the weights are
randomly initialised from a fixed seed. Tests and the demo use it; every loading path in Rankwise
accepts any HF model id or local path in its place.
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


def build_tiny_model(
    output_dir: str | Path, *, seed: int = 0, hidden_size: int = 64, layers: int = 2
) -> Path:
    """Writes the tiny model and tokenizer to `output_dir` (skipped when already built) and returns it."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    output = Path(output_dir)
    marker = output / "rankwise-tiny.json"
    spec = {"seed": seed, "hidden_size": hidden_size, "layers": layers, "version": 1}
    if marker.exists() and json.loads(marker.read_text()) == spec:
        return output
    output.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer()
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=4,
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
    parser = argparse.ArgumentParser(description="Build the tiny local Llama model and tokenizer.")
    parser.add_argument("output_dir", help="directory to write the model and tokenizer to")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(build_tiny_model(args.output_dir, seed=args.seed))


if __name__ == "__main__":
    main()
