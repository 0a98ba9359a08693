"""The Python side of core's interop test (core/python_test.go).

The functions below do what the Python library's README documents, on
redis-py: set_value/get_value JSON-encode complex objects (and bools and
None, which redis-py refuses), store str/int/float as their text, and
get_value decodes JSON, falling back to the raw string. Usage:

    python3 python_interop.py HOST:PORT PREFIX

It reads the keys core wrote under PREFIX:go:*, writes its own under
PREFIX:py:*, and prints one JSON object: what it read, and make_key's
results.
"""
import json
import sys

import redis


def encode(value):
    if isinstance(value, (str, bytes)):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value  # redis-py stores int and float as their text
    return json.dumps(value)


def decode(raw):
    if raw is None:
        return None
    text = raw.decode("utf-8")
    try:
        return json.loads(text)
    except ValueError:
        return text


def set_value(r, key, value, ttl=None):
    return bool(r.set(key, encode(value), ex=ttl))


def get_value(r, key, default=None):
    raw = r.get(key)
    return default if raw is None else decode(raw)


def cache_set(r, key, value, ttl=3600):
    return set_value(r, key, value, ttl=ttl)


def cache_get(r, key):
    return get_value(r, key)


def increment(r, key, amount=1):
    return r.incrby(key, amount)


def hash_set(r, key, field, value):
    return r.hset(key, field, encode(value))


def hash_get(r, key, field):
    return decode(r.hget(key, field))


def make_key(service, *parts):
    return ":".join([service, *parts])


VALUES = {
    "string": "noah",
    "unicode": "héllo wörld ✓ 日本語 🚀",
    "int": 21,
    "negative": -7,
    "float": 3.25,
    "true": True,
    "false": False,
    "none": None,
    "dict": {"name": "Noah", "age": 21, "tags": ["a", "b"], "nested": {"ok": True}, "nothing": None},
    "list": [1, "two", 3.5, False, None, {"k": "v"}],
}


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    prefix = sys.argv[2]
    r = redis.Redis(host=host, port=int(port))
    r.ping()

    read = {name: get_value(r, make_key(prefix, "go", "value", name)) for name in VALUES}
    read["cache"] = cache_get(r, make_key(prefix, "go", "cache"))
    read["cache_ttl"] = r.ttl(make_key(prefix, "go", "cache"))
    read["counter"] = get_value(r, make_key(prefix, "go", "counter"))
    read["counter_incremented"] = increment(r, make_key(prefix, "go", "counter"), 10)
    read["hash"] = {name: hash_get(r, make_key(prefix, "go", "hash"), name) for name in VALUES}
    read["missing"] = cache_get(r, make_key(prefix, "go", "missing"))

    for name, value in VALUES.items():
        set_value(r, make_key(prefix, "py", "value", name), value)
        hash_set(r, make_key(prefix, "py", "hash"), name, value)
    cache_set(r, make_key(prefix, "py", "cache"), {"user": "Noah", "score": 9.5})
    increment(r, make_key(prefix, "py", "counter"))
    increment(r, make_key(prefix, "py", "counter"), amount=41)

    out = {
        "read": read,
        "expected": VALUES,
        "make_key": [
            make_key("firstapi", "cache", "user", "123"),
            make_key("auth", "session", "abc123"),
            make_key("svc"),
        ],
    }
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
