"""An independent implementation of Temporal's encryption-sample payload format (and of
Lockstep's hardened variant, from docs/codec-format.md), using Python's `cryptography` package
and a hand-written protobuf encoder/decoder for temporal.api.common.v1.Payload. Shares no code
with the Rust codec: the interop test runs it to encrypt what Rust decrypts and the reverse.

Usage: sample_codec.py encrypt|decrypt < request.json > response.json
request: {"key": b64, "key_id": str, "namespace": str|null, "payloads": [payload]}
payload: {"metadata": {name: b64}, "data": b64}
With "namespace" set, encryption uses the hardened format (namespace bound as associated data).
"""

import base64
import json
import os
import struct
import sys

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

AAD_CONTEXT = b"lockstep-codec/namespace-v1\x00"


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number, value):
    return varint(number << 3 | 2) + varint(len(value)) + value


def serialize_payload(metadata, data):
    out = b""
    for name, value in sorted(metadata.items()):
        out += field(1, field(1, name.encode()) + field(2, value))
    if data:
        out += field(2, data)
    return out


def read_varint(buf, i):
    shift = result = 0
    while True:
        byte = buf[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, i
        shift += 7


def fields(buf):
    i = 0
    while i < len(buf):
        key, i = read_varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = read_varint(buf, i)
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        elif wire == 2:
            length, i = read_varint(buf, i)
            value, i = buf[i:i + length], i + length
        else:
            raise ValueError("unsupported wire type %d" % wire)
        yield number, value


def parse_payload(buf):
    metadata, data = {}, b""
    for number, value in fields(buf):
        if number == 1:
            entry = dict(fields(value))
            metadata[entry.get(1, b"").decode()] = entry.get(2, b"")
        elif number == 2:
            data = value
    return metadata, data


def aad(namespace, key_id):
    ns, kid = namespace.encode(), key_id.encode()
    return AAD_CONTEXT + struct.pack(">I", len(ns)) + ns + struct.pack(">I", len(kid)) + kid


def encrypt(request, metadata, data):
    key_id, namespace = request["key_id"], request.get("namespace")
    nonce = os.urandom(12)
    associated = aad(namespace, key_id) if namespace else None
    sealed = AESGCM(request["key"]).encrypt(nonce, serialize_payload(metadata, data), associated)
    outer = {"encoding": b"binary/encrypted", "encryption-key-id": key_id.encode()}
    if namespace:
        outer["encryption-binding"] = b"namespace-v1"
        outer["encryption-namespace"] = namespace.encode()
    return outer, nonce + sealed


def decrypt(request, metadata, data):
    if metadata.get("encoding") != b"binary/encrypted":
        return metadata, data
    key_id = metadata["encryption-key-id"].decode()
    if key_id != request["key_id"]:
        raise ValueError("unknown key id %r" % key_id)
    associated = None
    if metadata.get("encryption-binding") == b"namespace-v1":
        associated = aad(request["namespace"], key_id)
    plain = AESGCM(request["key"]).decrypt(data[:12], data[12:], associated)
    return parse_payload(plain)


def main():
    command = sys.argv[1]
    request = json.load(sys.stdin)
    request["key"] = base64.b64decode(request["key"])
    operation = {"encrypt": encrypt, "decrypt": decrypt}[command]
    out = []
    for payload in request["payloads"]:
        metadata = {k: base64.b64decode(v) for k, v in payload["metadata"].items()}
        data = base64.b64decode(payload["data"])
        metadata, data = operation(request, metadata, data)
        out.append({
            "metadata": {k: base64.b64encode(v).decode() for k, v in metadata.items()},
            "data": base64.b64encode(data).decode(),
        })
    json.dump({"payloads": out}, sys.stdout)


if __name__ == "__main__":
    main()
