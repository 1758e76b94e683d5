"""Shared by the benchmark scripts (run as scripts, so this folder is on sys.path)."""
from __future__ import annotations

ITEMS = 40


def questionnaire_yaml(questionnaire_id: str, items: int = ITEMS) -> str:
    """A questionnaire of `items` four-point scale items with "Ved ikke" (code 9), ten per page."""
    lines = [
        f"id: {questionnaire_id}", "title: Benchmark", "scales:", "  grad4:", "    options:",
        "      - {code: 4, label: I høj grad}", "      - {code: 3, label: I nogen grad}",
        "      - {code: 2, label: I mindre grad}", "      - {code: 1, label: Slet ikke}",
        "    missing:", "      - {code: 9, label: Ved ikke}", "sections:",
    ]
    for page in range(items // 10):
        lines += [f"  - id: side{page + 1}", f"    title: Side {page + 1}", "    items:"]
        for n in range(10):
            number = page * 10 + n + 1
            lines.append(f"      - {{id: q{number:02d}, text: Spørgsmål {number}, scale: grad4}}")
    return "\n".join(lines) + "\n"
