"""The monitor's figures never take more than their share of a core, however big the store gets."""

from __future__ import annotations

import pytest

from fraudstream.monitor.service import refresh_wait


def test_quick_refreshes_keep_the_configured_interval() -> None:
    assert refresh_wait(0.01, every_s=2.0, cpu_share=0.1) == 2.0


def test_slow_refreshes_back_off_to_the_cpu_share() -> None:
    wait = refresh_wait(0.5, every_s=2.0, cpu_share=0.1)
    assert wait == pytest.approx(4.5)
    assert 0.5 / (0.5 + wait) == pytest.approx(0.1)  # busy 0.5 s of every 5 s


@pytest.mark.parametrize("share", [0.0, 1.0, -1.0])
def test_a_share_outside_0_1_means_no_budget(share: float) -> None:
    assert refresh_wait(3.0, every_s=2.0, cpu_share=share) == 2.0
