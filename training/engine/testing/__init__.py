"""Test and demo helpers of the engine: the local random-weight models (`tiny`) and the synthetic preference
task (`synthetic`). Nothing in a run imports them."""
