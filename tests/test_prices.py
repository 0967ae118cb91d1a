"""The price table: shipped prices with their sources, estimates checked against totals
computed by hand, user overrides (``set``, TOML and JSON files) and the errors a bad file
gets."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterator

import pytest

import videogen_nb as vg
from videogen_nb.core.cost import Cost, format_cost
from videogen_nb.core.errors import ValidationError
from videogen_nb.store.catalog import get_model
from videogen_nb.store.price_file import read_price_file
from videogen_nb.store.prices import SHIPPED_PRICES, PriceTable


@pytest.fixture
def table() -> PriceTable:
    return PriceTable()


@pytest.fixture
def global_prices() -> Iterator[PriceTable]:
    yield vg.prices
    vg.prices.reset()


def _amount(cost: Cost | None) -> float:
    assert cost is not None
    assert cost.source == "estimated"
    return cost.amount


def test_every_shipped_price_names_a_source_and_date_and_a_catalog_model() -> None:
    shipped = read_price_file(SHIPPED_PRICES)
    assert shipped
    for price in shipped:
        assert price.source.startswith(("Google", "OpenAI")) and "https://" in price.source
        assert price.date is not None and len(price.date) == 10
        assert get_model(price.model) is not None, price.model
        assert (price.per_second or 0) > 0 or (price.per_video or 0) > 0


def test_estimates_by_hand(table: PriceTable) -> None:
    # sora-2: $0.10/s; 8 s = $0.80
    assert _amount(table.estimate(vg.VideoRequest(model="sora-2", prompt="x", seconds=8))) == (
        pytest.approx(0.80)
    )
    # sora-2-pro at 1792x1024 (1024p): $0.50/s x 12 s = $6.00; at 1280x720: $0.30 x 4 = $1.20
    hi = vg.VideoRequest(model="sora-2-pro", prompt="x", seconds=12, size="1792x1024")
    assert _amount(table.estimate(hi)) == pytest.approx(6.00)
    lo = vg.VideoRequest(model="sora-2-pro", prompt="x", seconds=4, size="1280x720")
    assert _amount(table.estimate(lo)) == pytest.approx(1.20)
    # veo 3.1 fast: 1080p $0.12/s x 6 s = $0.72; 4k $0.30 x 8 = $2.40
    assert _amount(table.estimate_seconds("veo_3_1-fast", 6, "1920x1080")) == pytest.approx(0.72)
    assert _amount(table.estimate_seconds("veo_3_1-fast", 8, "4k")) == pytest.approx(2.40)
    # veo 3.1 standard: any resolution but 4k is $0.40/s: 8 s = $3.20
    assert _amount(table.estimate_seconds("veo_3_1", 8, "1080p")) == pytest.approx(3.20)


def test_defaults_are_said_in_the_basis(table: PriceTable) -> None:
    # no seconds: sora's documented default 4 s; no size: the lowest priced resolution
    cost = table.estimate(vg.VideoRequest(model="sora-2-pro", prompt="x"))
    assert cost is not None and cost.amount == pytest.approx(4 * 0.30)
    assert "length not given: 4 s assumed" in cost.basis
    assert "resolution not given: 720p price" in cost.basis
    assert format_cost(cost) == "~$1.20"


def test_provider_prefixed_names_find_the_price(table: PriceTable) -> None:
    # OpenRouter's google/veo-3.1 is the catalog's veo_3_1
    assert _amount(table.estimate_seconds("google/veo-3.1", 4)) == pytest.approx(1.60)
    assert _amount(table.estimate_seconds("openai/sora-2", 4)) == pytest.approx(0.40)


def test_unknown_is_none_never_zero(table: PriceTable) -> None:
    assert table.estimate(vg.VideoRequest(model="kling-v1", prompt="x", duration=5)) is None
    assert table.estimate_seconds("my-private-model", 5) is None
    # a resolution the table has no price for is unknown too (not the nearest one)
    assert table.estimate_seconds("veo_3_1-fast", 8, "480p") is None
    assert format_cost(None) == "price unknown"
    with pytest.raises(ValidationError, match="positive"):
        table.set("kling-v1", per_second=0)


def test_set_overrides_and_totals(table: PriceTable) -> None:
    table.set("kling-v2-5-turbo", per_second=0.07)
    req = vg.VideoRequest(model="kling-v2-5-turbo", prompt="x", duration=10)
    cost = table.estimate(req)
    assert _amount(cost) == pytest.approx(0.70)
    assert cost is not None and "set by user" in cost.basis
    # per video plus per second: $0.20 + 5 s x $0.05 = $0.45, twice (n=2) = $0.90
    table.set("my-model", per_video=0.20, per_second=0.05, source="contract")
    two = vg.VideoRequest(model="my-model", prompt="x", duration=5, n=2)
    assert _amount(table.estimate(two)) == pytest.approx(0.90)
    # a resolution-specific price adds to the model's others; without one it replaces them
    table.set("sora-2-pro", per_second=0.9, resolution="1080p")
    assert _amount(table.estimate_seconds("sora-2-pro", 1, "1080p")) == pytest.approx(0.9)
    assert _amount(table.estimate_seconds("sora-2-pro", 1, "720p")) == pytest.approx(0.3)
    table.set("sora-2-pro", per_second=1.0)
    assert _amount(table.estimate_seconds("sora-2-pro", 1, "1792x1024")) == pytest.approx(1.0)
    table.remove("sora-2-pro")
    assert table.estimate_seconds("sora-2-pro", 1) is None
    table.reset()
    assert _amount(table.estimate_seconds("sora-2-pro", 1, "720p")) == pytest.approx(0.3)


def test_vg_prices_is_the_process_table(global_prices: PriceTable) -> None:
    global_prices.set("kling-v2-5-turbo", per_second=0.07)
    assert vg.prices.estimate_seconds("kling-v2-5-turbo", 5) == Cost(
        amount=0.35,
        source="estimated",
        basis="price table: 0.07 USD/s (set by user) x 5 s",
    )


def test_load_toml(table: PriceTable, tmp_path: pathlib.Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(
        '[[price]]\nmodel = "kling-v1"\nper_second = 0.028\nsource = "our contract"\n'
        'date = "2026-11"\n\n'
        '[[price]]\nmodel = "gen-3-alpha"\nper_video = 0.5\ncurrency = "eur"\n'
    )
    assert table.load(path) == 2
    cost = table.estimate(vg.VideoRequest(model="kling-v1", prompt="x", duration=5))
    assert _amount(cost) == pytest.approx(0.14)
    assert cost is not None and "our contract, 2026-11" in cost.basis
    euros = table.estimate_seconds("gen-3-alpha", None)
    assert euros is not None and euros.currency == "EUR" and format_cost(euros) == "~€0.50"


def test_load_json(table: PriceTable, tmp_path: pathlib.Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps([{"model": "sora-2", "per_second": 0.2}]))
    table.load(path)
    assert _amount(table.estimate_seconds("sora-2", 4)) == pytest.approx(0.8)
    # the file named the model: its shipped prices are replaced, not merged
    assert len(table.get("sora-2")) == 1


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("p.toml", "[[price]]\nmodel = 'x'\n", r"price #1 \(model 'x'\): give per_second"),
        ("p.toml", "[[price]]\nmodel = 'x'\nper_second = 0\n", "positive number"),
        ("p.toml", "[[price]]\nmodel = 'x'\nper_secnd = 1\n", r"unknown key\(s\) \['per_secnd'\]"),
        ("p.toml", "[[price]]\nper_second = 1\n", "names its model"),
        ("p.toml", "[[price]\n", "not valid TOML"),
        ("p.json", "{", "not valid JSON"),
        ("p.json", '{"model": "x"}', "expected a list of prices"),
        ("p.json", '[{"model": "x", "per_second": "cheap"}]', "must be a number"),
        ("p.json", '[{"model": "x", "per_second": 1, "resolution": "big"}]', "'720p'"),
        ("p.yaml", "", r"ends in \.toml or \.json"),
    ],
)
def test_bad_files_say_what_to_fix(
    table: PriceTable, tmp_path: pathlib.Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    before = table.models()
    with pytest.raises(ValidationError, match=message) as info:
        table.load(path)
    assert str(path) in str(info.value)
    assert table.models() == before  # nothing half-loaded


def test_missing_file(table: PriceTable, tmp_path: pathlib.Path) -> None:
    with pytest.raises(ValidationError, match="cannot read price file"):
        table.load(tmp_path / "nope.toml")
