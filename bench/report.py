"""RESULTS.md and its charts from the runner's results (matplotlib, Agg backend)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ORDERS_CHART = "orders_import.png"
STORE_CHART = "store_throughput.png"
MEMORY_CHART = "memory.png"



def _cpu(run: dict[str, Any]) -> str:
    """CPU seconds of the whole importing process per 1,000 receipts (older results: none)."""
    value = run.get("cpu_s_per_1000_receipts")
    return f"{value:.2f} s" if value is not None else "n/a"

def _ok(result: Any) -> bool:
    return isinstance(result, dict) and "error" not in result and "skipped" not in result


def _runs(results: dict[str, Any], step: str) -> list[dict[str, Any]]:
    """The measurements of a step that measures several sizes (none when it was skipped)."""
    runs = results.get(step, [])
    return runs if isinstance(runs, list) else []


def _num(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _machine(m: dict[str, Any]) -> str:
    return (
        f"{m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB RAM, Python {m['python']}, "
        f"SQLite {m['sqlite']}, {m['os']}"
    )


def _problem(result: dict[str, Any]) -> str:
    return result.get("error") or result.get("skipped") or result.get("pending") or "no result"


def _baseline_per_receipt(baseline: dict[str, Any]) -> tuple[float, float] | None:
    """(seconds per receipt, calls per receipt) of the measured baseline, for extrapolation."""
    if not _ok(baseline):
        return None
    n = baseline["workload"]["receipts"]
    return baseline["wall_s"] / n, baseline["api_calls"] / n


def _orders_section(results: dict[str, Any]) -> list[str]:
    orders = [r for r in results["orders"] if _ok(r)]
    postgres = [r for r in _runs(results, "orders_pg") if _ok(r)]
    baseline = results["baseline"]
    per = _baseline_per_receipt(baseline)
    out = ["## Historic order import", ""]
    if orders:
        w = orders[0]["workload"]
        out += [
            f"**Workload.** `shopbridge sync orders --from 2000-01-01` against the Etsy sandbox "
            f"on a real socket (its own process) at {w['qps']:g} requests/s with "
            f"{w['latency_ms']:g} ms latency per request; receipts of 1-5 lines; a SQLite ledger "
            f"in a temporary directory (and a throwaway PostgreSQL database on the same machine "
            f"for the PostgreSQL rows); "
            f"the shop's {w['catalog_listings']} listings imported first (not timed) so lines bind "
            f"to variants.",
            "",
            "**Floors.** Calls: ceil(N/100), one call per 100 receipts. Wall time: "
            "(calls - 1) / QPS + latency: the rate limit spaces the starts of the floor's calls "
            "1/QPS apart and the last answer arrives one latency after its start (the engine keeps "
            "several requests in flight; one at a time the floor would be calls x (1/QPS + latency)"
            "). Peak RSS is the importing process alone (the sandbox runs in another).",
            "",
            "| ledger | receipts | API calls | floor | ratio | wall time | floor | ratio | "
            "CPU s / 1,000 receipts | store time | store receipts/s | peak RSS |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in [*orders, *postgres]:
            out.append(
                f"| {r['workload'].get('ledger', 'SQLite')} | "
                f"{_num(r['workload']['receipts'])} | {_num(r['api_calls'])} | "
                f"{_num(r['call_floor'])} | {r['call_ratio']:.2f} | {_num(r['wall_s'], 1)} s | "
                f"{_num(r['wall_floor_s'], 1)} s | {r['wall_ratio']:.2f} | "
                f"{_cpu(r)} | {_num(r['store_s'], 1)} s | {_num(r['store_receipts_per_s'])} | "
                f"{_num(r['peak_rss_mib'])} MiB |"
            )
    for r in [*results["orders"], *_runs(results, "orders_pg")]:
        if not _ok(r):
            out.append(f"\nA size failed: `{_problem(r)}`")
    out += ["", "### Against ERPNext's Etsy integration (measured in the same run)", ""]
    if per is None:
        out.append(f"Not measured: {_problem(baseline)}.")
    else:
        b = baseline
        n = b["workload"]["receipts"]
        out += [
            f"**Workload.** The same sandbox settings and {n:,} receipts, imported the way "
            "ERPNext's Etsy app publishes it: pages of 100 sorted by creation date, strictly "
            f"sequential, a {b['workload']['pause_s']:g} s pause after every request, one "
            "getShopReceiptTransactionsByReceipt call per receipt, one commit per receipt into a "
            "simple SQLite table (less work than ERPNext's documents).",
            "",
            "| receipts | API calls | vs floor | wall time | vs floor | s / receipt |",
            "|---:|---:|---:|---:|---:|---:|",
            f"| {n:,} (measured) | {_num(b['api_calls'])} | {b['call_ratio']:.1f}x | "
            f"{_num(b['wall_s'], 1)} s | {b['wall_ratio']:.1f}x | {b['seconds_per_receipt']:.3f} |",
        ]
        for r in orders:
            size = r["workload"]["receipts"]
            if size == n:
                continue
            out.append(
                f"| {size:,} (extrapolated, linear) | ~{_num(per[1] * size)} | | "
                f"~{_duration(per[0] * size)} | | |"
            )
        same = next((r for r in orders if r["workload"]["receipts"] == n), None)
        if same:
            out += [
                "",
                f"At {n:,} receipts shopbridge made {b['api_calls'] / same['api_calls']:.0f}x "
                f"fewer calls and finished {b['wall_s'] / same['wall_s']:.0f}x sooner "
                f"({_num(same['wall_s'], 1)} s against {_num(b['wall_s'], 1)} s).",
            ]
    out += ["", f"![historic import]({ORDERS_CHART})", ""]
    return out


def _quiet_section(quiet: dict[str, Any]) -> list[str]:
    out = ["## Incremental cycle with nothing new", ""]
    if not _ok(quiet):
        return [*out, f"Not measured: {_problem(quiet)}.", ""]
    return [
        *out,
        f"**Workload.** A shop of {quiet['workload']['receipts']:,} receipts already in step "
        "(imported, then caught up past the 15 s margin); `sync orders` runs again with nothing "
        "new. Floor and target: exactly 1 call.",
        "",
        f"API calls: **{quiet['api_calls']}** (the sandbox counted "
        f"{quiet['calls_seen_by_sandbox']}), ratio {quiet['call_ratio']:.2f}; "
        f"{quiet['created']} created; {quiet['wall_s'] * 1000:.0f} ms.",
        "",
    ]


def _listings_section(listings: dict[str, Any]) -> list[str]:
    out = ["## Listings import", ""]
    if not _ok(listings):
        return [*out, f"Not measured: {_problem(listings)}.", ""]
    w = listings["workload"]
    return [
        *out,
        f"**Workload.** `shopbridge sync listings` of {w['listings']:,} listings over the five "
        f"states at {w['qps']:g} requests/s and {w['latency_ms']:g} ms latency, SQLite ledger. "
        f"Items with variations: {w['items_with_variations']} (the sandbox generator's mix, about "
        "half rather than the issue's third). Target: at most ceil(N/100) + 5 calls, and at least "
        "2,000 listings/s on the store side.",
        "",
        "| API calls | ceiling ceil(N/100)+5 | ratio | wall time | listings/s overall | "
        "store time | store listings/s | peak RSS |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {listings['api_calls']} | {listings['call_floor']} | {listings['call_ratio']:.2f} | "
        f"{_num(listings['wall_s'], 1)} s | {_num(listings['listings_per_s'], 1)} | "
        f"{_num(listings['store_s'], 1)} s | {_num(listings['store_listings_per_s'], 1)} | "
        f"{_num(listings['peak_rss_mib'])} MiB |",
        "",
    ]


def _store_section(store: dict[str, Any]) -> list[str]:
    out = ["## Store side alone", ""]
    if not _ok(store):
        return [*out, f"Not measured: {_problem(store)}.", ""]
    w = store["workload"]
    out += [
        f"**Workload.** No HTTP: a generated shop's {w['listings']:,} listings and "
        f"{w['receipts']:,} receipts, rendered to Etsy's JSON, mapped (`map_records`) and written "
        "(`RunRecorder.write_page` with the catalog and order writers) a page of 100 at a time, "
        "listings first. Targets: 1,500 receipts/s and 2,000 listings/s on SQLite.",
        "",
        "| ledger | receipts/s | vs 1,500 | listings/s | vs 2,000 | failed |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in store["backends"].items():
        if "skipped" in r:
            out.append(f"| {name} | {r['skipped']} | | | | |")
            continue
        out.append(
            f"| {name} | {_num(r['receipts_per_s'])} | {r['receipts_per_s'] / 1500:.2f} | "
            f"{_num(r['listings_per_s'])} | {r['listings_per_s'] / 2000:.2f} | "
            f"{r['receipts_failed'] + r['listings_failed']} |"
        )
    return [*out, "", f"![store throughput]({STORE_CHART})", ""]


def _budget_section(budget: dict[str, Any]) -> list[str]:
    out = ["## 1,000 shops on one key under the daily budget", ""]
    if "pending" in budget or "skipped" in budget:
        return [*out, f"Pending: {_problem(budget)}.", ""]
    if "error" in budget:
        return [*out, f"Failed: {budget['error']}", ""]
    return [
        *out,
        f"Output of `python -m bench.bench_budget` (exit {budget['exit']}):",
        "",
        "```",
        budget["output"] or budget.get("stderr", ""),
        "```",
        "",
    ]


def _orders_chart(results: dict[str, Any], path: Path) -> None:
    orders = [r for r in results["orders"] if _ok(r)]
    per = _baseline_per_receipt(results["baseline"])
    sizes = [r["workload"]["receipts"] for r in orders]
    labels = [f"{s:,}" for s in sizes]
    x = range(len(sizes))
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    width = 0.27
    series: list[tuple[str, list[float], list[float], str | None]] = [
        ("shopbridge", [r["wall_s"] for r in orders], [r["api_calls"] for r in orders], None),
        ("floor", [r["wall_floor_s"] for r in orders], [r["call_floor"] for r in orders], None),
    ]
    if per is not None:
        series.append(
            (
                "ERPNext-style (measured at "
                f"{results['baseline']['workload']['receipts']:,}, rest extrapolated)",
                [per[0] * s for s in sizes],
                [per[1] * s for s in sizes],
                "//",
            )
        )
    for k, (name, seconds, calls, hatch) in enumerate(series):
        offsets = [i + (k - 1) * width for i in x]
        left.bar(offsets, seconds, width, label=name, hatch=hatch)
        right.bar(offsets, calls, width, label=name, hatch=hatch)
    for axis, title, unit in ((left, "Wall time", "seconds"), (right, "API calls", "calls")):
        axis.set_yscale("log")
        axis.set_xticks(list(x), labels)
        axis.set_xlabel("receipts imported")
        axis.set_ylabel(f"{unit} (log scale)")
        axis.set_title(title)
    left.legend(fontsize=8)
    w = orders[0]["workload"] if orders else {"qps": 0, "latency_ms": 0}
    fig.suptitle(
        f"Historic order import at {w['qps']:g} QPS, {w['latency_ms']:g} ms latency", fontsize=11
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _store_chart(store: dict[str, Any], path: Path) -> None:
    backends = {k: v for k, v in store["backends"].items() if "skipped" not in v}
    fig, axis = plt.subplots(figsize=(7, 4))
    names = list(backends)
    width = 0.38
    receipts = [backends[n]["receipts_per_s"] for n in names]
    listings = [backends[n]["listings_per_s"] for n in names]
    axis.bar([i - width / 2 for i in range(len(names))], receipts, width, label="receipts/s")
    axis.bar([i + width / 2 for i in range(len(names))], listings, width, label="listings/s")
    axis.axhline(1500, color="C0", linestyle="--", linewidth=1, label="target 1,500 receipts/s")
    axis.axhline(2000, color="C1", linestyle=":", linewidth=1, label="target 2,000 listings/s")
    axis.set_xticks(range(len(names)), names)
    axis.set_ylabel("records per second")
    axis.set_title("Store side alone (mapping + page writer, no HTTP)")
    axis.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _memory_chart(results: dict[str, Any], path: Path) -> None:
    orders = [r for r in results["orders"] if _ok(r)]
    sizes = [r["workload"]["receipts"] for r in orders]
    fig, axis = plt.subplots(figsize=(6, 3.6))
    axis.plot(sizes, [r["peak_rss_mib"] for r in orders], marker="o", label="peak RSS")
    axis.plot(
        sizes,
        [r["rss_before_mib"] for r in orders],
        marker="s",
        linestyle="--",
        label="RSS before the import",
    )
    axis.set_xscale("log")
    axis.set_ylim(bottom=0)
    axis.set_xlabel("receipts imported")
    axis.set_ylabel("MiB")
    axis.set_title("Memory of the importing process")
    axis.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def read(out: Path) -> dict[str, Any]:
    """The raw results embedded in an earlier RESULTS.md in `out` (empty when there is none)."""
    path = out / "RESULTS.md"
    if not path.exists() or "```json\n" not in path.read_text():
        return {}
    raw = path.read_text().split("```json\n", 1)[1].split("\n```", 1)[0]
    return dict(json.loads(raw))


def write(results: dict[str, Any], out: Path) -> list[Path]:
    """Write RESULTS.md and the charts into `out`; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if any(_ok(r) for r in results["orders"]):
        _orders_chart(results, out / ORDERS_CHART)
        _memory_chart(results, out / MEMORY_CHART)
        written += [out / ORDERS_CHART, out / MEMORY_CHART]
    if _ok(results["store"]):
        _store_chart(results["store"], out / STORE_CHART)
        written.append(out / STORE_CHART)
    lines = [
        "# Benchmark results",
        "",
        f"Measured on {results['date']} by `python -m bench` on {_machine(results['machine'])},"
        f" code at {results.get('code', 'unknown')}."
        f" The whole suite took {results.get('minutes', 'n/a')} minutes."
        + (f" Re-measured since: {results['remeasured']}." if results.get("remeasured") else "")
        + (
            " **Toy sizes (`--tiny`): these figures prove the suite runs, nothing more.**"
            if results.get("tiny")
            else ""
        ),
        "",
        "Every figure comes from the scripts in this directory and can be measured again: "
        "`python -m bench --help`, or one script at a time (`python -m bench.bench_orders "
        "--size 10000`). Ratios are figure / floor: 1.00 is the best possible.",
        "",
        *_orders_section(results),
        f"![memory]({MEMORY_CHART})",
        "",
        *_quiet_section(results["quiet"]),
        *_listings_section(results["listings"]),
        *_store_section(results["store"]),
        *_budget_section(results["budget"]),
        "<details><summary>Raw results (JSON)</summary>",
        "",
        "```json",
        json.dumps(results, indent=1, default=str),
        "```",
        "</details>",
        "",
    ]
    (out / "RESULTS.md").write_text("\n".join(lines))
    return [out / "RESULTS.md", *written]
