"""Entry point shared by the Snakemake adapters in this folder (Snakemake puts it on sys.path)."""

import logging
import sys
from collections.abc import Callable
from typing import Any

from quadsgd.storage import StoreError


def run(main: Callable[[Any], None], smk: Any, name: str) -> None:
    """Call ``main(smk)`` with warnings, tqdm and logging going to the job's log file.

    A missing or corrupted input store (:class:`StoreError`) ends the job with exit status 1 and
    one line naming the store on the console, instead of a traceback.
    """
    sys.stderr = open(smk.log[0], "w", buffering=1)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        main(smk)
    except StoreError as err:
        logging.getLogger(name).error("StoreError: %s", err)
        print(f"StoreError ({name}): {err}", file=sys.__stderr__)
        sys.exit(1)
