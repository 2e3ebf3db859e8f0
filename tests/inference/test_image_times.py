"""An image's `seconds` is its own: the batches its model inputs ran in, each shared by the inputs in it
(deal.inference.image_times), not its window's average. Timed with a clock that only the forward pass
advances, by one unit per input pixel, so every share is an exact number."""

from __future__ import annotations

import time

import pytest

from deal.inference.image_times import ImageClock
from deal.inference.streaming import WorkItem, stream_outcomes
from tests.inference.conftest import smooth_image


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch, detector):
    """time.perf_counter as a clock that stands still but for the detector's forward passes, each of which
    advances it by its batch's input pixels (batch x height x width)."""
    fake = FakeClock()
    real_forward = detector.forward

    def forward(batch):
        fake.now += batch.shape[0] * batch.shape[-2] * batch.shape[-1]
        return real_forward(batch)

    monkeypatch.setattr(time, "perf_counter", fake)
    monkeypatch.setattr(detector, "forward", forward)
    return fake


def _own_pixels(detector, images, batch_size):
    """Each image's input pixels: the padded area of each of its model inputs, summed."""
    plan = detector.plan(images, batch_size)
    pixels = [0] * len(images)
    for piece in plan.pieces:
        h, w = detector.pipeline.policy.padded_hw(piece.placed_hw)
        pixels[piece.image] += h * w
    return pixels


def test_a_small_image_beside_large_ones_gets_its_own_time(detector, clock):
    images = [smooth_image(40, 48, 0), smooth_image(300, 260, 1), smooth_image(260, 300, 2)]
    expected = _own_pixels(detector, images, batch_size=8)
    assert expected[0] == 48 * 48 and expected[1] > 20 * expected[0]  # one padded input against many tiles
    window = [WorkItem(i, image) for i, image in enumerate(images)]
    outcomes = list(stream_outcomes(detector, [window], batch_size=8))
    assert [o.error for o in outcomes] == [None] * 3
    assert [o.seconds for o in outcomes] == pytest.approx(expected)
    assert sum(o.seconds for o in outcomes) == pytest.approx(clock.now - 1000.0)  # the shares add up


def test_heatmaps_reports_each_images_share(detector, clock):
    images = [smooth_image(300, 260, 3), smooth_image(64, 64, 4)]
    seconds: list[float] = []
    maps = detector.heatmaps(images, batch_size=4, seconds=seconds)
    assert [m.shape for m in maps] == [(300, 260), (64, 64)]
    assert seconds == pytest.approx(_own_pixels(detector, images, batch_size=4))


def test_the_clock_shares_a_batch_by_its_inputs_and_the_tail_by_the_images(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(time, "perf_counter", fake)

    class Piece:
        def __init__(self, image: int) -> None:
            self.image = image

    times = ImageClock(3)
    fake.now += 6.0
    times.batch_done([Piece(0), Piece(1), Piece(1)])  # 2 s per input
    fake.now += 4.0
    times.batch_done([Piece(2)])
    fake.now += 3.0  # merging the last batch: 1 s per image
    assert times.finish() == [3.0, 5.0, 5.0]
