"""The parameter sweep behind the pipeline, usable without Snakemake.

- :mod:`~quadsgd.sweep.plan`: how a grid is cut into jobs and tasks.
- :mod:`~quadsgd.sweep.execute`: the Dask client and the task map every stage runs on.
- :mod:`~quadsgd.sweep.drivers`: ODE scans, SGD curves, implicit-bias runs, the eta_opt search.
- :mod:`~quadsgd.sweep.aggregate`: per-job stores combined; escape statistics and the summary.
"""
