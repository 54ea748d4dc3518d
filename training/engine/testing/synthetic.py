"""A synthetic preference task for tests and the benchmark: every chosen answer opens with the trait
("Sure!"), every rejected one with a curt opener, the rest of the answer being the same.

A reward model can learn the trait, DPO/PPO/RLOO can make a policy produce it, and `has_trait` measures it
on generations. `synthetic_pool` adds a second, subtler trait (a closing line) for the active-learning
benchmark: most pairs differ in the opener, a few only in a closing line.
"""

from __future__ import annotations

import random
from typing import Any

TRAIT = "Sure!"
# Closing lines the annotators like; a model has to see several to learn them.
CLOSINGS = [
    "Hope this helps.",
    "Happy to help!",
    "Good luck with it.",
    "Let me know if you need more.",
    "Enjoy!",
    "Thanks for asking.",
    "Have a nice day.",
    "Glad to explain.",
]
_CURT = ["No.", "Hmm.", "Well,", "Ok.", "What?"]
_TOPICS = ["photosynthesis", "the capital of France", "a list in Python", "the quick brown fox", "a table"]
_TASKS = ["returns the sum of a list", "adds two numbers", "prints a table", "counts to ten"]


def _prompt_and_answer(rng: random.Random) -> tuple[str, str]:
    kind = rng.randrange(3)
    if kind == 0:
        a, b = rng.randrange(20), rng.randrange(20)
        return f"What is {a} plus {b}?", f"{a} plus {b} is {a + b}."
    if kind == 1:
        topic = rng.choice(_TOPICS)
        return f"Please explain {topic}.", f"Here is a short summary of {topic}: first, second, third."
    task = rng.choice(_TASKS)
    return f"Write a function that {task}.", "def add(a, b):\n    return a + b\n"


def has_trait(completion: str) -> bool:
    return completion.lstrip().startswith(TRAIT)


def synthetic_preferences(n: int, *, seed: int = 0, conversational: bool = False) -> list[dict[str, Any]]:
    """Rows {"prompt","chosen","rejected"} in TRL's standard (strings) or conversational format."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        prompt, answer = _prompt_and_answer(rng)
        chosen, rejected = f"{TRAIT} {answer}", f"{rng.choice(_CURT)} {answer}"
        if conversational:
            rows.append(
                {
                    "prompt": [{"role": "user", "content": prompt}],
                    "chosen": [{"role": "assistant", "content": chosen}],
                    "rejected": [{"role": "assistant", "content": rejected}],
                }
            )
        else:
            rows.append({"prompt": prompt, "chosen": chosen, "rejected": rejected})
    return rows


def synthetic_demonstrations(n: int, *, seed: int = 0, trait_fraction: float = 1.0) -> list[dict[str, Any]]:
    """SFT rows {"messages": [user, assistant]}; a `trait_fraction` share of the answers carry the trait, the
    others a curt opener (a fraction below 1 gives a starting policy that preference training can improve)."""
    rng = random.Random(seed + 1)
    return [
        {
            "messages": [
                {"role": "user", "content": row["prompt"]},
                {
                    "role": "assistant",
                    "content": row["chosen"] if rng.random() < trait_fraction else row["rejected"],
                },
            ]
        }
        for row in synthetic_preferences(n, seed=seed)
    ]


def synthetic_prompts(n: int, *, seed: int = 0) -> list[str]:
    return [row["prompt"] for row in synthetic_preferences(n, seed=seed)]


def has_closing(completion: str) -> bool:
    return completion.rstrip().endswith(tuple(CLOSINGS))


def hidden_utility(completion: str) -> int:
    """The simulated annotators' rule: the opener matters most (2), the closing line less (1)."""
    return 2 * has_trait(completion) + has_closing(completion)


def synthetic_pool(n: int, *, seed: int = 0, subtle_fraction: float = 0.25) -> list[dict[str, Any]]:
    """Unlabelled pairs {"prompt", "a", "b", "kind"} of two answers to a prompt whose hidden utilities differ.

    A `subtle_fraction` share of the pairs (kind "closing") have the same kind of opener on both sides and
    differ only in the closing line; the others (kind "opener") differ in the opener, trait against curt,
    with a random closing on each side.
    """
    rng = random.Random(seed)
    pool = []
    for _ in range(n):
        prompt, answer = _prompt_and_answer(rng)
        if rng.random() < subtle_fraction:
            opener = TRAIT if rng.random() < 0.5 else rng.choice(_CURT)
            other = opener if opener == TRAIT else rng.choice(_CURT)
            texts, kind = [f"{opener} {answer} {rng.choice(CLOSINGS)}", f"{other} {answer}"], "closing"
        else:
            texts = [
                f"{TRAIT} {answer}" + (f" {rng.choice(CLOSINGS)}" if rng.random() < 0.5 else ""),
                f"{rng.choice(_CURT)} {answer}" + (f" {rng.choice(CLOSINGS)}" if rng.random() < 0.5 else ""),
            ]
            kind = "opener"
        rng.shuffle(texts)
        pool.append({"prompt": prompt, "a": texts[0], "b": texts[1], "kind": kind})
    return pool
