"""The `rosc` command line: generate, load, query metrics, compare fairly, write board packs and serve
the dashboard.

Each command is a thin shell over the same functions a notebook imports, so the command line,
the notebooks and the dashboard give the same numbers.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import click

from pipelines.warehouse import DEFAULT_DB

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "data" / "sample"


def _iso_date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date in YYYY-MM-DD form") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rosc-outcomes")
def main() -> None:
    """ROSC outcomes analytics: validate and load extracts, compute metrics, serve the dashboard."""


@main.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write the extract into (created if missing).",
)
@click.option("--people", type=click.IntRange(min=1), default=3000, show_default=True)
@click.option("--seed", type=int, default=20260331, show_default=True)
@click.option("--as-of", "as_of", callback=_iso_date, help="Extract date (YYYY-MM-DD).")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True)
@click.option(
    "--prison-releases",
    is_flag=True,
    help="Also simulate people released from the system's prisons and referred on (about 12% more "
    "people), for continuity of care; rosc demo does.",
)
def generate(
    out_dir: Path, people: int, seed: int, as_of: date | None, fmt: str, prison_releases: bool
) -> None:
    """Write a synthetic extract that looks like a real local system (same seed, same files)."""
    from pipelines.generate import generate_extract

    counts = generate_extract(
        out_dir, people=people, seed=seed, as_of=as_of, fmt=fmt, prison_releases=prison_releases
    )
    for table, rows in counts.items():
        click.echo(f"{table:<12} {rows:>10,} rows")
    released = json.loads((out_dir / "extract.json").read_text(encoding="utf-8"))["prison_release_people"]
    extra = f" ({people:,} people and {released:,} released from prison)" if released else ""
    click.echo(f"wrote {fmt} extract to {out_dir}{extra}")


def _fraction(_ctx: click.Context, _param: click.Parameter, value: float) -> float:
    if not 0 <= value <= 1:
        raise click.BadParameter(f"{value} is not a fraction from 0 to 1 (e.g. 0.05 for 5%)")
    return value


def _reading_options(fn):
    """The options every command that reads an export takes: --mapping, --date-format, --encoding."""
    fn = click.option(
        "--encoding",
        default=None,
        help="Text encoding of the CSV files, e.g. cp1252 (Excel's CSV on Windows); default UTF-8.",
    )(fn)
    fn = click.option(
        "--date-format",
        "date_format",
        default=None,
        help="strftime pattern of dates written as text, e.g. %d/%m/%Y (the UK Excel default); "
        "default YYYY-MM-DD.",
    )(fn)
    fn = click.option(
        "--mapping",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="Mapping profile (TOML) for an export with its own file names, columns and codes.",
    )(fn)
    return fn


def _read_settings(mapping: Path | None, date_format: str | None, encoding: str | None):
    """(ReadOptions, MappingProfile or None) from the command line; a bad one is a usage error."""
    from pipelines.sources import ExtractError, ReadOptions, load_profile

    try:
        options = ReadOptions(date_format=date_format, encoding=encoding)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    if mapping is None:
        return options, None
    try:
        return options, load_profile(mapping)
    except ExtractError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)


@main.command()
@click.argument(
    "dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_DB, show_default=True)
@click.option("--strict", is_flag=True, help="Refuse the whole load if any row breaks a rule.")
@click.option(
    "--as-of",
    "as_of",
    callback=_iso_date,
    help="Extract date; default: the extract's extract.json, else today.",
)
@click.option("--force", is_flag=True, help="Load again even if this exact extract was loaded before.")
@click.option(
    "--quiet", is_flag=True, help="No progress display and no table; warnings and the last line only."
)
@click.option(
    "--max-rejected",
    "max_rejected",
    type=float,
    default=0.05,
    show_default=True,
    callback=_fraction,
    help="Refuse the whole load if any table would lose more than this fraction of its rows "
    "(counting rows lost through foreign keys).",
)
@_reading_options
def load(
    dirs: tuple[Path, ...],
    db: Path,
    strict: bool,
    as_of: date | None,
    force: bool,
    quiet: bool,
    max_rejected: float = 0.05,
    mapping: Path | None = None,
    date_format: str | None = None,
    encoding: str | None = None,
) -> None:
    """Validate extract folder(s) DIRS and load them into the DuckDB warehouse in one atomic step.

    Exit status: 0 loaded (the last line says how many rows were rejected); 1 refused because of bad
    rows (--strict, or more than --max-rejected); 2 a file-level problem, or another load running.
    """
    from pipelines.load import LoadRefused, load_extracts
    from pipelines.sources import ExtractError

    options, profile = _read_settings(mapping, date_format, encoding)
    try:
        result = load_extracts(
            list(dirs),
            db,
            strict=strict,
            quiet=quiet,
            as_of=as_of,
            force=force,
            max_rejected=max_rejected,
            options=options,
            profile=profile,
        )
    except (ExtractError, LoadRefused, ValueError) as error:  # ValueError: a setting, e.g. the salt
        click.echo(f"error: {error}", err=True)
        click.echo("nothing was loaded; the warehouse is unchanged.", err=True)
        rows = isinstance(error, LoadRefused) and (error.report is not None or len(error.failures) > 0)
        sys.exit(1 if rows else 2)
    if not quiet and not result.skipped_as_duplicate:
        click.echo(result.summary())
    else:
        click.echo(result.closing_line())


@main.command()
@click.argument(
    "dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Check references and overlaps against this warehouse too (opened read-only).",
)
@click.option("--as-of", "as_of", callback=_iso_date, help="Extract date; default: extract.json, else today.")
@_reading_options
def check(
    dirs: tuple[Path, ...],
    db: Path | None,
    as_of: date | None,
    mapping: Path | None,
    date_format: str | None,
    encoding: str | None,
) -> None:
    """Check extract folder(s) DIRS as `rosc load` would, and write nothing.

    Prints, per table, the rows, the rows that would load and the rows that would be rejected (with
    those lost through foreign keys), then the top problems with an example and the fix where one is
    known. Exit status: 0 clean, 1 rows would be rejected, 2 a file-level problem.
    """
    from pipelines.checks import check_extracts
    from pipelines.sources import ExtractError

    options, profile = _read_settings(mapping, date_format, encoding)
    try:
        report = check_extracts(list(dirs), db, as_of=as_of, options=options, profile=profile)
    except ExtractError as error:
        click.echo(f"error: {error}", err=True)
        click.echo("the extract cannot be loaded as it is (a file-level problem).", err=True)
        sys.exit(2)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(report.summary())
    sys.exit(1 if report.rows_rejected else 0)


@main.group(name="map")
def map_group() -> None:
    """Mapping profiles for exports with their own file names, columns and codes."""


@map_group.command(name="init")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("mapping.toml"),
    show_default=True,
    help="Where to write the starting profile.",
)
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
def map_init(folder: Path, out: Path, force: bool) -> None:
    """Write a starting mapping profile for the export in FOLDER, from its files' headers and values.

    Columns are matched to the contract ignoring case, spaces and punctuation; what is not matched,
    and every code value that is not a contract code (with its count), is listed for you to map.
    """
    from pipelines.sources import ExtractError
    from pipelines.sources.mapping_init import init_profile

    if out.exists() and not force:
        raise click.ClickException(f"{out} exists; pass --force to overwrite it, or --out another file")
    try:
        proposal = init_profile(folder)
    except ExtractError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    out.write_text(proposal.toml, encoding="utf-8")
    click.echo(proposal.summary())
    click.echo(f"wrote a starting profile to {out}: edit it, then `rosc check {folder} --mapping {out}`")


def _metric_parameter_options(fn):
    """One option per parameter any metric declares (`--grace-weeks`, `--run-length`, ...), from the
    registry, so a new parameter needs no change here; each is refused for a metric without it."""
    from pipelines.metrics.registry import METRICS

    seen: dict[str, list[str]] = {}
    for metric in METRICS.values():
        for parameter in metric.parameters:
            seen.setdefault(parameter.name, []).append(metric.id)
    for name in sorted(seen, reverse=True):
        metric_ids = seen[name]
        first = METRICS[metric_ids[0]].parameter(name)
        fn = click.option(
            f"--{name.replace('_', '-')}",
            name,
            type=int,
            default=None,
            help=f"{first.description} (default {first.default}; for {', '.join(metric_ids)}).",
        )(fn)
    return fn


@main.command()
@click.argument("name", required=False)
@click.option("--list", "list_metrics", is_flag=True, help="List the metrics with a one-line definition.")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_DB, show_default=True)
@click.option("--from", "start", callback=_iso_date, help="First day of the period (YYYY-MM-DD).")
@click.option("--to", "end", callback=_iso_date, help="Last day of the period (YYYY-MM-DD).")
@click.option(
    "--as-of", "as_of", callback=_iso_date, help="Extract date; default: latest date in the warehouse."
)
@click.option("--by", default="", help="Breakdown dimensions, comma-separated (e.g. programme,quarter).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option(
    "--no-suppress",
    is_flag=True,
    help="Show exact counts, including 1-4 (for analysts with record-level access); otherwise every "
    "count is perturbed (cell-key method) and small ones suppressed.",
)
@click.option(
    "--adjust",
    is_flag=True,
    help="Compare programmes on case mix (retention_12wk, early_unplanned_exit, successful_completion, "
    "representation_6m; needs --by programme): adds expected, ratio, ratio_ci_low, ratio_ci_high, "
    "adjusted_value, significance and adjustment_note.",
)
@_metric_parameter_options
def metric(
    name: str | None,
    list_metrics: bool,
    db: Path,
    start: date | None,
    end: date | None,
    as_of: date | None,
    by: str,
    fmt: str,
    no_suppress: bool,
    adjust: bool = False,
    **parameter_values: int | None,
) -> None:
    """Print metric NAME for a period, as CSV (default) or JSON.

    Metrics with parameters of their definition take them as options (relapse_tests, time_to_relapse:
    --grace-weeks, --run-length, --window-weeks); `--list` shows each metric's with their defaults.
    With --adjust, a case-mix model that cannot be fitted leaves the model columns empty and the last
    line (on stderr) says why.
    """
    from pipelines.metrics import available_metrics, compute_metric, describe_metric, get_metric, with_names
    from pipelines.warehouse import WarehouseNotFound, WarehouseOutOfDate, open_warehouse

    if list_metrics:
        for metric_id in available_metrics():
            described = describe_metric(metric_id)
            settings = ", ".join(f"{k} {v}" for k, v in described["parameters"].items())
            extra = f" [parameters: {settings}]" if settings else ""
            click.echo(f"{metric_id:<30} {described['definition']}{extra}")
        return
    if not name:
        raise click.UsageError("give a metric NAME, or --list to see them")
    if start is None or end is None:
        raise click.UsageError("--from and --to are required")
    parameters = {k: v for k, v in parameter_values.items() if v is not None}
    try:
        declared = {p.name for p in get_metric(name).parameters}
    except KeyError as error:
        raise click.ClickException(str(error.args[0])) from None
    refused = [k for k in parameters if k not in declared]
    if refused:
        options = ", ".join(f"--{k.replace('_', '-')}" for k in refused)
        raise click.UsageError(
            f"{options}: not a parameter of {name}"
            + (f" (its parameters: {', '.join(sorted(declared))})" if declared else " (it takes none)")
        )
    breakdown = [d.strip() for d in by.split(",") if d.strip()]
    try:
        warehouse = open_warehouse(db)
    except (WarehouseNotFound, WarehouseOutOfDate) as error:
        raise click.ClickException(str(error)) from None
    try:
        table = compute_metric(
            warehouse,
            name,
            start,
            end,
            as_of=as_of,
            by=breakdown,
            suppress=not no_suppress,
            parameters=parameters or None,
            adjust=adjust,
        )
        table = with_names(table, warehouse)  # a name beside each code (programme name, setting label...)
    except (KeyError, ValueError) as error:
        raise click.ClickException(str(error.args[0] if error.args else error)) from None
    finally:
        warehouse.close()
    _print_table(table, fmt)
    for warning in table.attrs.get("warnings", []):
        click.echo(f"warning: {warning}", err=True)


def _print_table(table, fmt: str) -> None:
    """A result table on stdout, as CSV or as JSON records."""
    if fmt == "csv":
        click.echo(table.to_csv(index=False), nl=False)
    else:
        click.echo(json.dumps(json.loads(table.to_json(orient="records", date_format="iso")), indent=2))


#: The dimensions `rosc compare` filters by, each an option of its own (--programme, --age-band, ...).
FILTER_OPTIONS: tuple[str, ...] = (
    "programme",
    "provider",
    "area",
    "setting",
    "substance_group",
    "sex",
    "age_band",
)


def _filter_options(fn):
    """One option per filter dimension; each may be repeated or comma-separated for several values."""
    for dimension in reversed(FILTER_OPTIONS):
        fn = click.option(
            f"--{dimension.replace('_', '-')}",
            dimension,
            multiple=True,
            help=f"Only records with this {dimension.replace('_', ' ')} (repeat, or separate with commas, "
            "for several).",
        )(fn)
    return fn


def _filters(values: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    chosen: dict[str, list[str]] = {}
    for dimension, given in values.items():
        parts = [part.strip() for text in given for part in text.split(",") if part.strip()]
        if parts:
            chosen[dimension] = parts
    return chosen


@main.group()
def compare() -> None:
    """Fair comparisons: outcomes with and without peer support on a landmark cohort."""


@compare.command(name="peer-support")
@click.option(
    "--metric",
    "metric_name",
    type=click.Choice(["retention_12wk", "representation_6m"]),
    required=True,
    help="The outcome compared.",
)
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_DB, show_default=True)
@click.option("--from", "start", callback=_iso_date, required=True, help="First day of the period.")
@click.option("--to", "end", callback=_iso_date, required=True, help="Last day of the period.")
@click.option(
    "--as-of", "as_of", callback=_iso_date, help="Extract date; default: latest date in the warehouse."
)
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option(
    "--no-suppress",
    is_flag=True,
    help="Exact counts and unrounded estimates (for analysts with record-level access); otherwise the "
    "counts are perturbed and small groups suppressed.",
)
@_filter_options
def compare_peer_support_command(
    metric_name: str,
    db: Path,
    start: date,
    end: date,
    as_of: date | None,
    fmt: str,
    no_suppress: bool,
    **filter_values: tuple[str, ...],
) -> None:
    """Outcomes with and without peer support on the landmark cohort: one row per estimate.

    Columns: estimate (crude | adjusted), exposed_n, unexposed_n, exposed_value, unexposed_value,
    difference, ci_low, ci_high, method, then adjusted_for, suppressed, reason and notes. Crude: the
    difference in shares with Newcombe's interval; adjusted: logistic regression on the case mix and
    marginal standardisation. Observational: the lines on stderr say what the cohort, exposure and
    outcome are, and the last says why an estimate has no number, if one has none.
    """
    from pipelines.metrics import COMPARISON_COLUMNS, compare_peer_support
    from pipelines.warehouse import WarehouseNotFound, WarehouseOutOfDate, open_warehouse

    try:
        warehouse = open_warehouse(db)
    except (WarehouseNotFound, WarehouseOutOfDate) as error:
        raise click.ClickException(str(error)) from None
    try:
        table = compare_peer_support(
            warehouse,
            metric_name,
            start,
            end,
            as_of=as_of,
            filters=_filters(filter_values) or None,
            suppress=not no_suppress,
        )
    except (KeyError, ValueError) as error:
        raise click.ClickException(str(error.args[0] if error.args else error)) from None
    finally:
        warehouse.close()
    _print_table(table[COMPARISON_COLUMNS], fmt)
    attrs = table.attrs
    click.echo(
        f"observational: {attrs['cohort']}; exposed: {attrs['exposure']}; outcome: {attrs['outcome']}",
        err=True,
    )
    for warning in attrs["warnings"]:
        click.echo(f"warning: {warning}", err=True)


@main.group(name="import")
def import_() -> None:
    """Turn another source's files into a contract extract folder (then `rosc load` it)."""


@import_.command(name="ctn0094")
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write the extract into (created if missing).",
)
@click.option(
    "--anchor",
    callback=_iso_date,
    help="Date of study day 0 (consent) for every participant; default 2020-01-01.",
)
def import_ctn0094_command(src: Path, out_dir: Path, anchor: date | None) -> None:
    """Import the CTN-0094 trial tables (CSV) in SRC as a contract extract."""
    from pipelines.sources.ctn0094 import DEFAULT_ANCHOR, import_ctn0094

    try:
        result = import_ctn0094(src, out_dir, anchor=anchor or DEFAULT_ANCHOR)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    for table, rows in result.items():
        click.echo(f"{table:<12} {rows:>10,} rows")
    for what, count in result.left_out.items():
        click.echo(f"left out {count:>8,} {what}")
    click.echo(f"wrote contract extract (as_of {result.as_of}) to {out_dir}")


#: The filters `rosc report` takes, as the dashboard's filter bar offers them (one value each, or all).
REPORT_FILTERS = ("area", "provider", "programme", "setting", "substance_group", "sex", "age_band")


def _report_filter_options(fn):
    for dimension in reversed(REPORT_FILTERS):
        fn = click.option(
            f"--{dimension.replace('_', '-')}",
            dimension,
            multiple=True,
            metavar="VALUE",
            help=f"Only this {dimension.replace('_', ' ')} (its code, as in a dashboard link); default all.",
        )(fn)
    return fn


def _month(text: str | None, option: str):
    from dashboard.periods import Month

    if text is None:
        return None
    try:
        return Month.parse(text)
    except ValueError:
        raise click.UsageError(
            f"{option} {text!r} is not a month: write it YYYY-MM, such as 2025-04"
        ) from None


@main.command()
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_DB, show_default=True)
@click.option("--from", "first", help="First month of the period (YYYY-MM); default the dashboard's default.")
@click.option("--to", "last", help="Last month of the period (YYYY-MM).")
@_report_filter_options
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The PDF to write, e.g. pack.pdf.",
)
def report(db: Path, first: str | None, last: str | None, out: Path, **filters: tuple[str, ...]) -> None:
    """Write the board pack (an A4 landscape PDF) of one dashboard view.

    The period is one the dashboard answers: a month, a financial-year quarter, a financial year or
    the 12 months ending with the last complete month (--from and --to as YYYY-MM); each filter is one
    value or all. Anything else is refused (exit 2), never widened.
    """
    import time

    from dashboard.filters import DIMENSION_LABELS, state_of
    from dashboard.periods import DataSpan, Period
    from dashboard.queries import DashboardData
    from pipelines.warehouse import WarehouseNotFound, WarehouseOutOfDate
    from report import PackRefused, write_pack

    if (first is None) != (last is None):
        raise click.UsageError("give both --from and --to (YYYY-MM), or neither for the dashboard's default")
    many = [d for d, values in filters.items() if len(values) > 1]
    if many:
        names = ", ".join(f"--{d.replace('_', '-')}" for d in many)
        raise click.UsageError(
            f"{names} given more than once: a board pack is for one value of each filter or all of them "
            "(programmes are compared side by side on its funnel plots)"
        )
    try:
        data = DashboardData(db)
    except (WarehouseNotFound, WarehouseOutOfDate) as error:
        raise click.ClickException(str(error)) from None
    try:
        span = DataSpan.of(*data.dates())
        period = span.default()
        if first is not None:
            start, end = _month(first, "--from"), _month(last, "--to")
            if start > end:
                raise click.UsageError(f"--from {first} is after --to {last}")
            period = Period(start, end)
        options = data.filter_options()
        for dimension, values in filters.items():
            known = {o["value"] for o in options[dimension]}
            unknown = [v for v in values if v not in known]
            if unknown:
                label = DIMENSION_LABELS[dimension].lower()
                raise click.UsageError(
                    f"--{dimension.replace('_', '-')} {unknown[0]!r} is not a {label} of this warehouse "
                    f"(its {label} codes: {', '.join(sorted(known))})"
                )
        state = state_of(period, **{d: list(v) for d, v in filters.items() if v})
        started = time.perf_counter()
        try:
            write_pack(data, state, out)
        except PackRefused as error:
            raise click.UsageError(str(error)) from None
    finally:
        data.close()
    click.echo(f"wrote the board pack to {out} ({time.perf_counter() - started:.1f} s)")


@main.command()
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_DB, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8050, show_default=True)
@click.option(
    "--workers", type=click.IntRange(min=1), default=2, show_default=True, help="gunicorn worker processes."
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Threads per worker (more than 1: gunicorn's threaded workers).",
)
@click.option(
    "--debug", is_flag=True, help="Flask's development server in Dash debug mode (reloader, error pop-ups)."
)
@click.option(
    "--benchmarks",
    "benchmarks_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Benchmarks CSV to show instead of the shipped England values (format: pipelines.benchmarks).",
)
def serve(
    db: Path, host: str, port: int, workers: int, threads: int, debug: bool, benchmarks_file: Path | None
) -> None:
    """Serve the dashboard with gunicorn (WORKERS processes of THREADS threads), reading the warehouse
    read-only. Tiles and the funnel show England's published value as a reference where its definition
    matches or is close to ours."""
    from pipelines.benchmarks import BenchmarkFileError, load_benchmarks
    from pipelines.metrics import available_metrics
    from pipelines.warehouse import WarehouseNotFound, WarehouseOutOfDate, open_warehouse

    try:
        # Refuse now, in one clear message, rather than in every worker.
        open_warehouse(db).close()
        load_benchmarks(benchmarks_file, known_indicators=available_metrics())
    except (WarehouseNotFound, WarehouseOutOfDate, BenchmarkFileError) as error:
        raise click.ClickException(str(error)) from None
    if debug:
        from dashboard.app import create_app

        click.echo(f"dashboard (development server) on http://{host}:{port}  (warehouse {db}, Ctrl-C stops)")
        create_app(db, benchmarks=benchmarks_file).run(host=host, port=port, debug=True)
        return
    from dashboard.serve import serve_dashboard

    click.echo(
        f"dashboard on http://{host}:{port}  (warehouse {db}; gunicorn, {workers} workers x {threads} "
        "threads; Ctrl-C to stop)"
    )
    serve_dashboard(db, host=host, port=port, workers=workers, threads=threads, benchmarks=benchmarks_file)


#: The demo system `rosc demo` generates at its first run: a local system the size of a mid-sized English
#: area (about 7,300 people in treatment in financial year 2025-26, across 28 programmes), too big to
#: commit, so generated deterministically (same people, seed and generator, same files) into data/demo/.
DEMO_DIR = SAMPLE_DIR.parent / "demo"
DEMO_PEOPLE = 12_000
DEMO_SEED = 20260331


def _demo_extract(out_dir: Path) -> Path:
    """The demo extract in ``out_dir``, generated first when it is missing or was made with other settings
    or another contract version."""
    from pipelines.contract import CONTRACT_VERSION
    from pipelines.generate import RELEASE_PEOPLE_SHARE, generate_extract

    marker = out_dir / "extract.json"
    if marker.exists():
        made = json.loads(marker.read_text(encoding="utf-8"))
        wanted = {
            "people": DEMO_PEOPLE,
            "seed": DEMO_SEED,
            "contract_version": CONTRACT_VERSION,
            "prison_release_people": int(round(RELEASE_PEOPLE_SHARE * DEMO_PEOPLE)),
        }
        if all(made.get(k) == v for k, v in wanted.items()):
            return out_dir
    click.echo(f"generating the demo system ({DEMO_PEOPLE:,} people, seed {DEMO_SEED}) into {out_dir} (once)")
    generate_extract(out_dir, people=DEMO_PEOPLE, seed=DEMO_SEED, prison_releases=True)
    return out_dir


@main.command()
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_DB, show_default=True)
@click.option(
    "--extract",
    "extract_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Extract to load instead of the demo system (e.g. data/sample, the small committed sample).",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8050, show_default=True)
@click.pass_context
def demo(ctx: click.Context, db: Path, extract_dir: Path | None, host: str, port: int) -> None:
    """Generate the demo system at first run (12,000 people, a mid-sized area), load it (a no-op if
    already loaded) and serve the dashboard."""
    if extract_dir is None:
        extract_dir = _demo_extract(DEMO_DIR)
    elif not (extract_dir / "extract.json").exists():
        raise click.ClickException(f"{extract_dir}: no extract here; make one with `rosc generate --out DIR`")
    ctx.invoke(load, dirs=(extract_dir,), db=db, strict=False, as_of=None, force=False, quiet=False)
    ctx.invoke(serve, db=db, host=host, port=port, workers=2, threads=1, debug=False, benchmarks_file=None)


if __name__ == "__main__":  # pragma: no cover
    main()
