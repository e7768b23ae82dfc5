"""Decrypt SM2 ciphertexts with gmssl, an implementation independent of miic.

usage: sm2_decrypt.py PRIVATE_KEY_HEX MODE(c1c3c2|c1c2c3) ENCODING(hex|base64) PREFIX_04(1|0)
Reads one ciphertext per line on stdin, prints one plaintext per line (UTF-8, or <garbage>).
gmssl wants C1 without the 04 byte and never checks C3, so a wrong mode prints garbage.
"""
import base64
import sys

from gmssl import sm2

key, mode, encoding, prefix = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
crypt = sm2.CryptSM2(private_key=key, public_key="", mode=1 if mode == "c1c3c2" else 0)
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    raw = bytes.fromhex(line) if encoding == "hex" else base64.b64decode(line)
    if prefix:
        assert raw[0] == 4, "expected the 04 prefix"
        raw = raw[1:]
    plain = crypt.decrypt(raw)
    try:
        print(plain.decode("utf-8"))
    except (UnicodeDecodeError, AttributeError):
        print("<garbage>")
