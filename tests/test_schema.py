"""Every stored variable is described: the trajectory schema and the attribute table."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from quadsgd.schema import VARIABLE_ATTRS, annotate, missing_attrs, trajectory_dataset
from quadsgd.status import STATUS_ATTRS, Status


def test_every_table_entry_has_a_long_name_and_units():
    for name, attrs in VARIABLE_ATTRS.items():
        assert attrs.get("long_name") and attrs.get("units"), name
    assert STATUS_ATTRS["flag_values"] == [int(s) for s in Status]
    assert STATUS_ATTRS["flag_meanings"].split() == [s.name.lower() for s in Status]


def test_trajectory_dataset_shapes_and_attributes():
    B, G, p, s = 3, 4, 2, 1
    ds = trajectory_dataset(alpha=np.linspace(0, 1, G), risk=np.ones((B, G)), status=np.zeros(B, dtype=int),
                            alpha_escape=np.ones(B), alpha_stop=np.ones(B), eta=np.full(B, 0.1),
                            Q=np.zeros((B, G, p, p)), M=np.zeros((B, G, p, s)), M0=np.zeros((B, p, s)),
                            batch_dims=("seed",), coords={"seed": [5, 6, 7]})
    assert ds.risk.dims == ("seed", "alpha") and ds.Q.dims == ("seed", "alpha", "k", "l")
    assert ds.M.dims == ("seed", "alpha", "k", "r") and ds.status.dtype == np.int8
    assert float(ds.eta) == 0.1  # a constant eta is a scalar coordinate
    assert missing_attrs(ds) == []
    assert ds.status.attrs["flag_meanings"] == STATUS_ATTRS["flag_meanings"]
    with pytest.raises(ValueError, match="batch_dims"):
        trajectory_dataset(alpha=np.linspace(0, 1, G), risk=np.ones((B, G)), status=np.zeros(B, dtype=int),
                           alpha_escape=np.ones(B), alpha_stop=np.ones(B), eta=np.full(B, 0.1),
                           Q_final=np.zeros((B, p, p)), M_final=np.zeros((B, p, s)), batch_dims=())


def test_annotate_fills_known_names_prefixed_sgd_names_and_a_table():
    ds = xr.Dataset({"risk": ("alpha", np.ones(3)), "sgd_n_runs": ("x", [1]), "mine": ("x", [2.0])},
                    coords={"alpha": [0.0, 1.0, 2.0]})
    assert set(missing_attrs(ds)) == {"risk", "sgd_n_runs", "mine", "alpha", "x"} - {"x"}
    annotate(ds, {"mine": {"long_name": "my variable", "units": "m"}})
    assert ds.risk.attrs == VARIABLE_ATTRS["risk"]
    assert ds.sgd_n_runs.attrs["long_name"].startswith("finite-N SGD: ")
    assert ds.mine.attrs == {"long_name": "my variable", "units": "m"}
    assert missing_attrs(ds) == []
    again = annotate(ds.copy())
    assert again.sgd_n_runs.attrs == ds.sgd_n_runs.attrs  # idempotent
