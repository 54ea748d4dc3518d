"""Generating completions from a causal LM for prompts (strings or message lists): model-card samples,
before/after comparisons, and the tests' trait counts."""

from __future__ import annotations

from typing import Any


def prompt_ids(tokenizer: Any, prompt: Any) -> list[int]:
    """Token ids of a prompt ready for generation (chat template with the assistant turn opened)."""
    if isinstance(prompt, str):
        if tokenizer.chat_template:
            prompt = [{"role": "user", "content": prompt}]
        else:
            return tokenizer(prompt, add_special_tokens=True)["input_ids"]
    ids = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True)
    return ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else list(ids)


def generate(
    model: Any,
    tokenizer: Any,
    prompts: list[Any],
    *,
    max_new_tokens: int = 32,
    do_sample: bool = False,
    temperature: float = 1.0,
    num_return_sequences: int = 1,
    seed: int = 0,
) -> list[str]:
    """Returns the decoded completions, `num_return_sequences` per prompt, in prompt order."""
    import torch

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    out: list[str] = []
    try:
        for prompt in prompts:
            ids = torch.tensor([prompt_ids(tokenizer, prompt)], device=device)
            with torch.no_grad():
                result = model.generate(
                    input_ids=ids,
                    attention_mask=torch.ones_like(ids),
                    max_new_tokens=max_new_tokens,
                    do_sample=do_sample,
                    temperature=temperature if do_sample else None,
                    top_k=0 if do_sample else None,
                    top_p=1.0 if do_sample else None,
                    num_return_sequences=num_return_sequences,
                    pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=tokenizer.eos_token_id,
                )
            for row in result:
                out.append(tokenizer.decode(row[ids.shape[1] :], skip_special_tokens=True))
    finally:
        torch.random.set_rng_state(generator_state)
        model.train(was_training)
    return out
