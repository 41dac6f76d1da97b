"""A researcher's own codec as external commands (tests/test_plugins.py describes it in a
TOML file): `python toy_command.py encode QUALITY IN.png OUT` / `decode IN OUT.png`, JPEG
inside (quality 1..95); quality 13 makes the encoder fail with exit 3."""
import sys

from PIL import Image


def main(argv):
    if argv[0] == "encode":
        q, src, out = int(argv[1]), argv[2], argv[3]
        if q == 13:
            print("toy: quality 13 is unlucky", file=sys.stderr)
            return 3
        Image.open(src).convert("RGB").save(out, "JPEG", quality=q)
    elif argv[0] == "decode":
        Image.open(argv[1]).convert("RGB").save(argv[2], "PNG")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
