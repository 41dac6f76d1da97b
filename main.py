"""Launch lstm-compare: python main.py [PHOTO ...]"""
import sys

from gui.app import main

if __name__ == "__main__":
    sys.exit(main())
