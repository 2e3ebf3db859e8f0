"""Checkpoints hold what was trained (never the frozen encoder), resume restores the encoder from the SAM
checkpoint (and refuses another), and a lazy torch.compile failure falls back to eager."""

from __future__ import annotations

import copy
import io
import logging

import pytest
import torch

from deal.cli.main import main
from deal.training.export import model_from_lightning_checkpoint
from deal.training.module import CompileOrEager
from tests.conftest import assert_outputs_close
from tests.modeling.tiny_sam import build_official_sam, save_official_checkpoint
from tests.training.conftest import tiny_config, write_config

pytestmark = pytest.mark.slow  # several short trainings and a ViT-B-sized checkpoint: ~1 min

STEPS_PER_EPOCH = 8  # 32 training images, batches of 4


def _frozen_config(dataset, root, sam, **trainer):
    config = tiny_config(dataset, root, limit_val_batches=0, **trainer)
    config["model"]["config"]["train_encoder"] = False
    config["model"]["sam_checkpoint"] = str(sam)
    return config


def _sd(path):
    return torch.load(path, map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def tiny_sams(tmp_path_factory):
    root = tmp_path_factory.mktemp("sams")
    return (save_official_checkpoint(build_official_sam("tiny", seed=0), root / "sam_tiny.pth"),
            save_official_checkpoint(build_official_sam("tiny", seed=1), root / "sam_tiny_other.pth"))


@pytest.fixture(scope="module")
def uninterrupted(tiny_dataset, tiny_sams, tmp_path_factory):
    """Two epochs in one go, a checkpoint kept at the end of each epoch."""
    root = tmp_path_factory.mktemp("straight")
    config = _frozen_config(tiny_dataset, root, tiny_sams[0])
    config["trainer"]["callbacks"] = [{
        "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
        "init_args": {"dirpath": str(root / "epochs"), "filename": "e{epoch}", "auto_insert_metric_name": False,
                      "save_top_k": -1, "every_n_epochs": 1},
    }]
    assert main(["train", "--config", str(write_config(root / "c.yaml", config))]) == 0
    return root, config


def test_slim_checkpoint_leaves_out_the_frozen_encoder(uninterrupted):
    root, _ = uninterrupted
    (final,) = root.rglob("final.ckpt")
    ckpt = _sd(final)
    assert ckpt["global_step"] == 2 * STEPS_PER_EPOCH
    assert not any(k.startswith("model.image_encoder.") for k in ckpt["state_dict"])
    assert ckpt["deal"]["omitted"] == "model.image_encoder." and len(ckpt["deal"]["base_sha256"]) == 64
    assert ckpt["optimizer_states"] and ckpt["lr_schedulers"] and ckpt["hyper_parameters"]["config"]["encoder"] == "tiny"


def test_resume_from_slim_checkpoint_equals_uninterrupted_run(uninterrupted, tmp_path, capsys):
    root, config = uninterrupted
    config = copy.deepcopy(config)
    config["trainer"].pop("callbacks")
    config["trainer"]["logger"]["init_args"]["save_dir"] = str(tmp_path / "runs")
    epoch0 = root / "epochs" / "e0.ckpt"
    assert _sd(epoch0)["global_step"] == STEPS_PER_EPOCH  # as if the run had been killed after one epoch
    cfg = write_config(tmp_path / "c.yaml", config)
    # the README's resume command
    assert main(["train", "--config", str(cfg), "--ckpt_path", str(epoch0)]) == 0
    (resumed,) = tmp_path.rglob("final.ckpt")
    (straight,) = root.rglob("final.ckpt")
    a, b = _sd(straight), _sd(resumed)
    assert a["global_step"] == b["global_step"] == 2 * STEPS_PER_EPOCH
    assert a["state_dict"].keys() == b["state_dict"].keys()
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    model_a, _ = model_from_lightning_checkpoint(straight)  # the encoder from the recorded SAM checkpoint
    model_b, _ = model_from_lightning_checkpoint(resumed)
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert_outputs_close(model_b(x), model_a(x))

    # Resuming over another SAM checkpoint is refused, in one sentence.
    capsys.readouterr()
    config["model"]["sam_checkpoint"] = str(config["model"]["sam_checkpoint"]).replace("sam_tiny.pth", "sam_tiny_other.pth")
    other = write_config(tmp_path / "other.yaml", config)
    assert main(["train", "--config", str(other), "--ckpt_path", str(epoch0)]) == 2
    err = capsys.readouterr().err.strip()
    assert "sam_tiny.pth" in err and "sam_tiny_other.pth" in err and "same SAM checkpoint" in err
    assert len(err.splitlines()) == 1


def test_vit_b_checkpoint_is_small(tiny_dataset, tmp_path):
    """A ViT-B run over an official-format SAM file (random weights): the Lightning checkpoint with and
    without the frozen encoder."""
    from segment_anything import sam_model_registry

    torch.manual_seed(0)
    sam_path = tmp_path / "sam_vit_b_01ec64.pth"
    torch.save(sam_model_registry["vit_b"]().state_dict(), sam_path)
    config = _frozen_config(tiny_dataset, tmp_path, sam_path, max_steps=1)
    config["model"]["config"] = {"encoder": "vit_b", "input_policy": "native", "image_size": 1024, "train_encoder": False}
    config["data"]["batch_size"] = 2
    assert main(["train", "--config", str(write_config(tmp_path / "c.yaml", config))]) == 0
    (final,) = tmp_path.rglob("final.ckpt")
    slim = final.stat().st_size
    ckpt = _sd(final)
    model, _ = model_from_lightning_checkpoint(final)
    full_state = {**ckpt["state_dict"], **{f"model.{k}": v for k, v in model.state_dict().items()}}
    buffer = io.BytesIO()
    torch.save({**ckpt, "state_dict": full_state}, buffer)  # what a checkpoint held before
    full = buffer.tell()
    trainable = sum(p.numel() for p in model.trainable_parameters())
    print(f"ViT-B Lightning checkpoint: {full / 1e6:.1f} MB with the encoder, {slim / 1e6:.1f} MB without; "
          f"{trainable} trainable parameters")
    assert slim < 60e6 < 350e6 < full
    # trainable tensors + AdamW's two moments, fp32, plus the small frozen tensors outside the encoder
    assert 3 * 4 * trainable < slim < 3 * 4 * trainable + 2e6


def test_compile_failure_at_first_forward_falls_back_to_eager(monkeypatch, caplog):
    def broken_backend(graph_module, example_inputs):
        raise RuntimeError("no compiler toolchain here (forced)")

    real_compile = torch.compile
    monkeypatch.setattr(torch, "compile", lambda model, **kw: real_compile(model, backend=broken_backend))
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.GELU(), torch.nn.Linear(8, 1))
    wrapped = CompileOrEager(model)
    assert wrapped.compiled is not None  # torch.compile itself succeeded: compilation is lazy
    x = torch.randn(3, 4)
    with caplog.at_level(logging.WARNING, logger="deal.training.module"):
        first = wrapped(x)  # compiles here, fails, answers eagerly
        second = wrapped(x)
        second.sum().backward()  # training goes on, eager
    assert_outputs_close(first, model(x))
    assert_outputs_close(second, model(x))
    assert wrapped.compiled is None and "forced" in wrapped.error
    assert [r.getMessage() for r in caplog.records].count(f"torch.compile failed, training continues eager: {wrapped.error}") == 1
    assert all(p.grad is not None for p in model.parameters())
