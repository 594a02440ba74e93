#!/usr/bin/python3
"""Each task computes what it should; values map back by seq."""
import json

from harness import check, run

SHA256 = {
    "abc": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    "": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
}


def same(a, b):
    """Equal as JSON: False is not 0, 1.0 is not 1."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


async def every_task_computes_its_value(h):
    gw = await h.start(workers=[2])
    c = await h.client(gw)
    cases = [
        ("primes", [10, 100, 1000, 1000000, 0, 1, 2], [4, 25, 168, 78498, 0, 0, 1]),
        ("sha256", list(SHA256), list(SHA256.values())),
        ("echo", [{"a": [1, 2.5, "x", None, True]}, "", -7, False, [], {}],
         [{"a": [1, 2.5, "x", None, True]}, "", -7, False, [], {}]),
        ("sleep", [100], [100]),
        ("burn", [0, 20], [0, 20]),
    ]
    for task, items, want in cases:
        got = await c.run(task, items)
        check(same(got, want), f"{task} {items}: got {got}, want {want}")


async def echo_keeps_values_exact(h):
    gw = await h.start(workers=[1])
    c = await h.client(gw)
    items = ["é ✓ 😀", 2**53, -2**63, 2**63 - 1, 0.1, 1e300, {"k": {"l": [[[]]]}},
             "x" * 10000]
    got = await c.run("echo", items)
    check(same(got, items), f"echo changed values: {got}")


run([every_task_computes_its_value, echo_keeps_values_exact])
