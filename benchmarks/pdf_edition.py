"""PDF editions: what one build costs a worker for a big issue.

    python benchmarks/pdf_edition.py [--repeat 5] [--items 30] [--images 10]

Prints medians of --repeat builds on a SQLite file of an issue with --items items
over the three default themes (each with a paragraph, two links and a contact;
--images of them with a picture), the PDF's size, and as a baseline the same
issue's archive page rendered by Jinja in the same run, so the ratio says what the
PDF costs over the web page.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402
from sqlalchemy import select  # noqa: E402

from benchmarks.common import empty_schema  # noqa: E402
from newsletter import create_app  # noqa: E402
from newsletter.extensions import db  # noqa: E402
from newsletter.models import Issue, Theme  # noqa: E402
from newsletter.models.types import utcnow  # noqa: E402
from newsletter.services import corrections, issues, media, pdf  # noqa: E402
from newsletter.services.issues import ItemData, LinkData, sections  # noqa: E402

BODY = (
    "Regionen och kommunerna har tagit fram en gemensam vägledning för hur skolor, "
    "socialtjänst och hälso- och sjukvård samarbetar kring barn och unga som behöver "
    "stöd från flera håll. Vägledningen beskriver ansvar, kontaktvägar och hur "
    "vårdnadshavare görs delaktiga.\n\nLäs mer på **webbplatsen** eller kontakta oss."
)


def picture(seed: int) -> bytes:
    """A photo-like picture (noise compresses like a photograph)."""
    image = Image.effect_noise((1600, 1000), 40 + seed).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def big_issue(items: int, images: int) -> int:
    """A published issue with the given number of items; returns its id."""
    issue = issues.create_issue("Nyhetsbrev mars 2026", "Välkommen.", "", "", "bench")
    themes = db.session.scalars(select(Theme).order_by(Theme.position)).all()
    stored = [media.store_image(picture(n)) for n in range(min(images, items))]
    for number in range(items):
        item = issues.add_item(
            issue.id,
            ItemData(
                title=f"Artikel {number + 1}: ny vägledning om samverkan",
                body=BODY,
                theme_id=themes[number % len(themes)].id,
                contact_name="Sara Lind",
                contact_phone="0480-123 45",
                contact_email="sara.lind@example.se",
                links=[
                    LinkData("Vägledningen", f"https://example.se/v/{number}"),
                    LinkData("Anmälan", f"https://example.se/a/{number}"),
                ],
            ),
            "bench",
        )
        if number < len(stored):
            item.image, item.image_alt = stored[number].name, "En bild"
    issue.status = "sent"
    issue.published_at = utcnow()
    db.session.commit()
    return issue.id


def main() -> None:
    """Build the PDF --repeat times and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--images", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "SECRET_KEY": "benchmark",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite3",
                "MEDIA_PATH": f"{tmp}/media",
                "BASE_URL": "https://nyhetsbrev.example.se",
            }
        )
        empty_schema(app)
        builds, pages, sizes = [], [], []
        with app.app_context(), app.test_request_context():
            issue = db.session.get(Issue, big_issue(args.items, args.images))
            assert issue is not None
            for _ in range(args.repeat):
                started = time.perf_counter()
                built = pdf.write(issue)
                builds.append(time.perf_counter() - started)
                sizes.append(built.size)
                started = time.perf_counter()
                app.jinja_env.get_template("public/issue.html").render(
                    issue=issue,
                    sections=sections(issue),
                    preview=False,
                    corrections=corrections.for_issue(issue.id),
                    edition=None,
                )
                pages.append(time.perf_counter() - started)
    build, page = statistics.median(builds), statistics.median(pages)
    print(f"PDF edition of {args.items} items ({args.images} with images), "
          f"median of {args.repeat} builds")  # fmt: skip
    print(f"  build (WeasyPrint, PDF/UA-1): {build * 1000:8.0f} ms")
    print(f"  archive page (Jinja):         {page * 1000:8.1f} ms")
    print(f"  ratio build / page:           {build / page:8.0f}x")
    print(f"  PDF size:                     {statistics.median(sizes) / 1024:8.0f} kB")


if __name__ == "__main__":
    main()
