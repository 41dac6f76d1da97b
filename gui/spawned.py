"""The app started again inside a child process, by a script without a `__main__` guard."""
import multiprocessing
import sys


def exit_if_spawned_child() -> None:
    """End this process if it is a child of the classical codecs' pool re-running the
    parent's script while it starts (spawn runs that script again, as `__mp_main__`): a script
    that starts the app without an `if __name__ == "__main__":` guard would open a second
    window there, and the child would never serve the pool. Ended, the child shows the parent
    that children cannot work here, and the parent runs the codecs itself."""
    # multiprocessing's own test for "still starting up" (its RuntimeError for the same mistake)
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        sys.exit('lstm-compare: the script that starts the app needs `if __name__ == "__main__":` around '
                 "that call, so that the classical codecs can run in a child process; until then they run "
                 "in the app's own.")
