"""Damaged model files and bad device requests fail loudly (issue 23): the offline pairs' weights are checked
against the SHA-256 digests in ``data/models/<pair>/digests.json`` and by a probe forward when they load, and
``pick_device`` rejects a device this machine cannot use."""
from __future__ import annotations

import shutil
import warnings

import pytest
import torch

from dcirc_utils import load_pair
from dcirc_utils.core.paths import MODELS_DIR
from dcirc_utils.models.integrity import DIGESTS_FILE, file_sha256, read_digests, record_digests
from dcirc_utils.models.pairs import pick_device

OFFLINE = ("mini", "small", "bert-small")


def _copy(tmp_path, pair="mini"):
    if not (MODELS_DIR / pair / "teacher" / "config.json").exists():
        pytest.skip(f"offline pair {pair!r} not shipped")
    return shutil.copytree(MODELS_DIR / pair, tmp_path / pair)


# --------------------------------------------------------------------------------------------- digests
@pytest.mark.parametrize("pair", OFFLINE)
def test_shipped_weights_match_their_manifest(pair):
    folder = MODELS_DIR / pair
    weights = sorted(p.relative_to(folder).as_posix() for p in folder.glob("*/*.safetensors"))
    if not weights:
        pytest.skip(f"offline pair {pair!r} not shipped")
    digests = read_digests(folder)
    assert sorted(digests) == weights, f"{folder / DIGESTS_FILE} must list every weights file"
    for rel, expected in digests.items():
        assert file_sha256(folder / rel) == expected, rel
    assert DIGESTS_FILE in (folder / "README.md").read_text(), "the card must point to the manifest"


def test_damaged_weights_raise_naming_file_digests_and_fix(tmp_path):
    folder = _copy(tmp_path)
    target = folder / "student" / "model.safetensors"
    expected = read_digests(folder)["student/model.safetensors"]
    data = bytearray(target.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 1000] = bytes(1000)
    target.write_bytes(bytes(data))
    with pytest.raises(RuntimeError) as err:
        load_pair("mini", device="cpu", folder=folder)
    msg = str(err.value)
    for part in (str(target), expected, file_sha256(target), "python -m dcirc_utils.offline.distill --pair mini",
                 f"--out {folder}", "record_digests"):
        assert part in msg, (part, msg)


def test_damaged_shipped_file_names_git_checkout():
    from dcirc_utils.models.integrity import fix_hint
    hint = fix_hint(MODELS_DIR / "small" / "student" / "model.safetensors", "python -m dcirc_utils.offline.distill")
    assert "git checkout -- data/models/small/student/model.safetensors" in hint


def test_unrecorded_weights_load_with_one_warning(tmp_path):
    folder = _copy(tmp_path)
    (folder / DIGESTS_FILE).unlink()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pair = load_pair("mini", device="cpu", folder=folder)
    ours = [w for w in caught if "SHA-256" in str(w.message)]
    assert len(ours) == 1 and "unchecked" in str(ours[0].message)
    assert "teacher" in str(ours[0].message) and "student" in str(ours[0].message)
    assert pair.student.n_layers == 3


def test_retraining_records_digests(tmp_path):
    folder = _copy(tmp_path)
    (folder / DIGESTS_FILE).unlink()
    record_digests(folder / "teacher")
    assert list(read_digests(folder)) == ["teacher/model.safetensors"]
    record_digests(folder / "student")   # keeps the teacher's entry
    assert read_digests(folder) == read_digests(MODELS_DIR / "mini")


def test_retrain_command_writes_the_manifest(tmp_path):
    from dcirc_utils.offline import distill
    out = tmp_path / "pair"
    distill.main(["--out", str(out), "--teacher-steps", "2", "--student-steps", "2", "--n-layer", "2",
                  "--student-layers", "1", "--n-embd", "16", "--n-positions", "64", "--block-size", "48",
                  "--batch-size", "4", "--eval-prompts", "8", "--kl-docs", "20", "--device", "cpu", "--quiet"])
    digests = read_digests(out)
    assert sorted(digests) == ["student/model.safetensors", "teacher/model.safetensors"]
    assert all(file_sha256(out / rel) == sha for rel, sha in digests.items())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert load_pair("mini", device="cpu", folder=out).student.n_layers == 1
    assert not [w for w in caught if "SHA-256" in str(w.message)]   # recorded: loads checked, without a warning


def test_folder_only_for_offline_pairs(tmp_path):
    with pytest.raises(ValueError, match="offline pairs"):
        load_pair("gpt2-random", device="cpu", folder=tmp_path)


# --------------------------------------------------------------------------------------------- probe forward
def test_nan_weight_is_caught_by_the_probe(tmp_path):
    from safetensors.torch import load_file, save_file
    folder = _copy(tmp_path)
    target = folder / "student" / "model.safetensors"
    state = load_file(str(target))
    name = next(k for k in state if k.endswith("mlp.c_fc.weight"))
    state[name][0, 0] = float("nan")
    save_file(state, str(target), metadata={"format": "pt"})
    record_digests(folder / "student")   # a deliberately recorded file: only the probe can catch it
    with pytest.raises(RuntimeError, match="non-finite logits") as err:
        load_pair("mini", device="cpu", folder=folder)
    msg = str(err.value)
    assert "mini-student" in msg and str(folder / "student") in msg
    assert "python -m dcirc_utils.offline.distill --pair mini" in msg


# --------------------------------------------------------------------------------------------- devices
@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_names_the_variable_and_fix():
    with pytest.raises(ValueError) as err:
        pick_device("cuda", env="DCIRC_DEVICE")
    assert "$DCIRC_DEVICE=cuda" in str(err.value) and "unset DCIRC_DEVICE or set it to cpu" in str(err.value)
    with pytest.raises(ValueError, match="device='cuda'.*Fix: pass device='cpu'"):
        pick_device("cuda")


def test_unknown_device_raises():
    for bad in ("tpu", "gpu", "meta", ""):
        with pytest.raises(ValueError, match="not a device this package runs on"):
            pick_device(bad)
    assert pick_device("cpu") == torch.device("cpu") and pick_device(torch.device("cpu")).type == "cpu"
