"""Launch lstm-compare: python main.py [PHOTO ...]"""
import multiprocessing
import sys

from gui.app import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # the classical codecs' child process, in a frozen build
    sys.exit(main())
