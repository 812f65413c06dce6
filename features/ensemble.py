"""The evidence interval's boosted members as one booster: every member's trees, one output each.

Eight members scored one by one cost eight booster calls per request. Their trees concatenated into
one multi-output booster (``multi:softprob``, one class per member, read as margins) are walked in
one call, in the same order per member from the same base margin, so each output is the member's
own margin bit for bit; a probe checks that when the booster is built, and members that cannot be
merged (a baseline without a booster, a probe that disagrees) are scored one by one as before.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import xgboost as xgb

from features.catalogue import FEATURE_NAMES, NOT_RECORDED_VALUES

FloatArray = npt.NDArray[np.float64]

# A tree of one leaf worth 0: a booster made of it returns its base margin exactly.
_ZERO_LEAF = {
    "base_weights": [0.0], "categories": [], "categories_nodes": [], "categories_segments": [],
    "categories_sizes": [], "default_left": [0], "id": 0, "left_children": [-1],
    "loss_changes": [0.0], "parents": [2147483647], "right_children": [-1],
    "split_conditions": [0.0], "split_indices": [0], "split_type": [0], "sum_hessian": [0.0],
    "tree_param": {
        "num_deleted": "0", "num_feature": str(len(FEATURE_NAMES)), "num_nodes": "1",
        "size_leaf_vector": "1",
    },
}  # fmt: skip


@dataclass(frozen=True)
class MergedMembers:
    """One booster for the members whose boosters it holds (None: score them one by one)."""

    boosters: tuple[Any, ...]
    booster: xgb.Booster | None

    def serves(self, members: Sequence[Any]) -> bool:
        """Whether it was built from these members' boosters (recalibrated copies share them)."""
        return len(members) == len(self.boosters) and all(
            getattr(member, "booster_", None) is booster
            for member, booster in zip(members, self.boosters, strict=True)
        )

    def margins(self, matrix: FloatArray) -> FloatArray:
        """Every member's booster margin for every case (cases × members), as float64."""
        assert self.booster is not None
        raw = self.booster.inplace_predict(matrix, predict_type="margin", missing=np.nan)
        return np.asarray(raw, dtype=np.float64).reshape(len(matrix), len(self.boosters))

    def log_odds(self, members: Sequence[Any], matrix: FloatArray) -> FloatArray:
        """Each member's calibrated log-odds, ``intercept_ + slope_ * margin`` as it computes it."""
        slopes = np.array([member.slope_ for member in members])
        intercepts = np.array([member.intercept_ for member in members])
        return np.asarray(intercepts + slopes * self.margins(matrix), dtype=np.float64)


def merge_members(members: Sequence[Any]) -> MergedMembers:
    """The members' boosters merged into one, checked against each member on a probe."""
    found = tuple(getattr(member, "booster_", None) for member in members)
    boosters = tuple(b for b in found if isinstance(b, xgb.Booster))
    if len(members) < 2 or len(boosters) < len(found):
        return MergedMembers(found, None)
    documents = [json.loads(booster.save_raw("json")) for booster in boosters]
    if any(_objective(document) != "binary:logistic" for document in documents):
        return MergedMembers(boosters, None)
    merged = _merged_booster(documents, [_base_margin(document) for document in documents])
    threads = json.loads(boosters[0].save_config())["learner"]["generic_param"]["nthread"]
    merged.set_param({"nthread": int(threads)})
    result = MergedMembers(boosters, merged)
    probe = _probe()
    own = np.column_stack(
        [b.inplace_predict(probe, predict_type="margin", missing=np.nan) for b in boosters]
    )
    if not np.array_equal(result.margins(probe), np.asarray(own, dtype=np.float64)):
        return MergedMembers(boosters, None)  # another XGBoost reads the model differently
    return result


def _objective(document: dict[str, Any]) -> str:
    return str(document["learner"]["objective"]["name"])


def _trees(document: dict[str, Any]) -> dict[str, Any]:
    model: dict[str, Any] = document["learner"]["gradient_booster"]["model"]
    return model


def _with_trees(document: dict[str, Any], trees: list[Any], groups: list[int]) -> dict[str, Any]:
    out = copy.copy(document)
    out["learner"] = dict(document["learner"])
    out["learner"]["gradient_booster"] = dict(document["learner"]["gradient_booster"])
    model = dict(_trees(document))
    model |= {
        "trees": trees,
        "tree_info": groups,
        "gbtree_model_param": {"num_parallel_tree": "1", "num_trees": str(len(trees))},
        "iteration_indptr": [0, len(trees)],
    }
    out["learner"]["gradient_booster"]["model"] = model
    return out


def _load(document: dict[str, Any]) -> xgb.Booster:
    return xgb.Booster(model_file=bytearray(json.dumps(document).encode()))


def _base_margin(document: dict[str, Any]) -> float:
    """The member's base margin exactly as its booster holds it (float32)."""
    alone = _load(_with_trees(document, [_ZERO_LEAF], [0]))
    probe = np.zeros((1, len(FEATURE_NAMES)))
    return float(alone.inplace_predict(probe, predict_type="margin", missing=np.nan)[0])


def _merged_booster(documents: list[dict[str, Any]], bases: list[float]) -> xgb.Booster:
    """Every member's trees in order, tree ``t`` of member ``k`` feeding output ``k``; each output
    starts from its member's base margin (``multi:softprob`` keeps base scores as margins)."""
    trees: list[Any] = []
    groups: list[int] = []
    for k, document in enumerate(documents):
        for tree in _trees(document)["trees"]:
            trees.append({**tree, "id": len(trees)})
            groups.append(k)
    merged = _with_trees(documents[0], trees, groups)
    classes = str(len(documents))
    learner = merged["learner"]
    learner["learner_model_param"] = {
        **learner["learner_model_param"],
        "num_class": classes,
        # repr of a float32 read as float64 parses back to the same float32
        "base_score": "[" + ",".join(repr(base) for base in bases) + "]",
    }
    learner["objective"] = {
        "name": "multi:softprob",
        "softmax_multiclass_param": {"num_class": classes},
    }
    return _load(merged)


def _probe() -> FloatArray:
    """Rows that reach many leaves: nothing recorded, all zeros, all ones, and random values."""
    rng = np.random.default_rng(0)
    n = len(FEATURE_NAMES)
    rows = [
        NOT_RECORDED_VALUES,
        np.zeros(n),
        np.ones(n),
        *rng.uniform(0, 100, (16, n)),
        *rng.integers(0, 2, (16, n)).astype(np.float64),
    ]
    return np.asarray(np.vstack(rows), dtype=np.float64)
