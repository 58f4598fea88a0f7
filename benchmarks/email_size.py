"""Email size: how big the issue email's HTML gets as items are added.

    python benchmarks/email_size.py

Gmail clips a message whose HTML is over 102 KB, and the clipped end holds the
unsubscribe link. Prints the HTML size of the preview email (every theme) for 1,
10, 20 and 40 items of typical length (a paragraph, two links and a contact), and
the bytes each further item adds.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from benchmarks.common import empty_schema  # noqa: E402
from newsletter import create_app  # noqa: E402
from newsletter.extensions import db  # noqa: E402
from newsletter.mail.emails import preview_email  # noqa: E402
from newsletter.models import Theme  # noqa: E402
from newsletter.services import issues  # noqa: E402
from newsletter.services.issues import ItemData, LinkData  # noqa: E402

COUNTS = (1, 10, 20, 40)
BODY = (
    "Den **12 mars** samlas region, kommuner och skolor för att tala om hur unga "
    "får hjälp i tid. Dagen bjuder på föreläsningar, samtal i mindre grupper och "
    "exempel från tre kommuner som har prövat nya arbetssätt under året.\n\n"
    "Anmäl dig senast den 1 mars. Konferensen är kostnadsfri för deltagarna."
)


def html_size(app, count: int) -> int:
    """Bytes of the preview email's HTML for an issue with `count` items."""
    with app.app_context():
        themes = list(db.session.scalars(select(Theme).order_by(Theme.id)))
        issue = issues.create_issue(
            f"Nyhetsbrev {count}",
            "Välkommen till vårens första nummer.",
            "Konferens och ny vägledning",
            "",
            editor="benchmark",
        )
        for n in range(count):
            data = ItemData(
                title=f"Regional konferens om ungas psykiska hälsa {n}",
                body=BODY,
                theme_id=themes[n % len(themes)].id,
                contact_name="Karin Ek",
                contact_phone="010-123 45 67",
                contact_email="karin.ek@example.se",
                links=[
                    LinkData("Program", "https://konferens.example.se/program"),
                    LinkData("Anmälan", "https://konferens.example.se/anmalan"),
                ],
            )
            issues.add_item(issue.id, data, "benchmark")
        db.session.commit()
        return len(preview_email(issue, "sv").html.encode())


def main() -> None:
    """Print the measured figures."""
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "benchmark",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite3",
            }
        )
        empty_schema(app)
        sizes = {count: html_size(app, count) for count in COUNTS}
    for count, size in sizes.items():
        print(f"email size: {count:2d} items: {size / 1024:6.1f} KB ({size} bytes)")
    per_item = (sizes[COUNTS[-1]] - sizes[COUNTS[0]]) / (COUNTS[-1] - COUNTS[0])
    print(f"email size: {per_item:.0f} bytes per further item")


if __name__ == "__main__":
    main()
