"""Questionnaire text shared by several test folders (imported by name: tests/ is on sys.path
through tests/conftest.py)."""
from __future__ import annotations

# The four-point scale with "Ved ikke" most test questionnaires use, highest code first, as a
# top-level `scales:` block.
GRAD4_SCALES = """\
scales:
  grad4:
    options:
      - {code: 4, label: I høj grad}
      - {code: 3, label: I nogen grad}
      - {code: 2, label: I mindre grad}
      - {code: 1, label: Slet ikke}
    missing:
      - {code: 9, label: Ved ikke}
"""

# A small questionnaire for rounds, imports and rates: four scale items with "Ved ikke",
# q5 shown only after q1 = 1 and q6 asked of managers (lead) only.
SMALL_YAML = """\
id: small
title: Lille skema
""" + GRAD4_SCALES + """\
sections:
  - id: side1
    title: Side 1
    items:
      - {id: q1, text: Spørgsmål et, scale: grad4}
      - {id: q2, text: Spørgsmål to, scale: grad4}
      - {id: q3, text: Spørgsmål tre, scale: grad4}
      - {id: q4, text: Spørgsmål fire, scale: grad4}
      - {id: q5, text: Kun efter slet ikke, scale: grad4, show_if: {item: q1, equals: 1}}
      - {id: q6, text: Kun for ledere, scale: grad4, groups: [lead]}
"""
