"""Shared by the bench scripts' summaries: RESULT lines grouped by test and broker, and medians."""
import statistics


def rows_by_test(path: str) -> dict:
    """{(test, label): [fields of each RESULT line]} from a results.txt."""
    rows: dict = {}
    for line in open(path):
        fields = dict(part.split("=", 1) for part in line.split()[1:] if "=" in part)
        rows.setdefault((fields["test"], fields["label"]), []).append(fields)
    return rows


def med(values):
    """(median, min, max) of the values that are there, or None."""
    values = [float(v) for v in values if v not in (None, "")]
    return (statistics.median(values), min(values), max(values)) if values else None
