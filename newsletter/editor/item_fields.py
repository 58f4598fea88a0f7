"""An item form's fields as service data: the item form's own and a correction's,
with the image an upload, a removal or a kept upload leaves the item."""

from __future__ import annotations

from collections.abc import Sequence

from flask import flash
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.datastructures import FileStorage

from newsletter.editor.forms import ItemForm
from newsletter.form_fields import add_error
from newsletter.models import Item, Revision
from newsletter.services import image_erasure, media
from newsletter.services.issues import NO_IMAGE, ItemData, ItemImage, LinkData


def item_data(
    form: ItemForm, image: ItemImage | None = None, theme_id: int | None = None
) -> ItemData:
    """Turn a valid item form into service data, dropping empty link rows; the
    theme is the form's unless given (a correction keeps the item's)."""
    return ItemData(
        image=image,
        title=form.title.data,
        body=form.body.data,
        theme_id=form.theme_id.data if theme_id is None else theme_id,
        contact_name=form.contact_name.data,
        contact_phone=form.contact_phone.data,
        contact_email=form.contact_email.data,
        links=[
            LinkData(row.text.data, row.url.data)
            for row in form.links
            if row.text.data or row.url.data
        ],
    )


def take_image(form: ItemForm, item: Item | None) -> ItemImage | None:
    """The item's image after this save: a new upload (stored at once, and its name
    kept in the form should the form be shown again), a removal, an upload kept
    from before, or the image it has. None, with an error on the form, when an
    upload is refused or a kept upload is gone."""
    upload = form.image.data
    if isinstance(upload, FileStorage) and upload.filename:
        try:
            stored = media.store_image(upload.read())
        except media.ImageRefused as refused:
            add_error(form.image, str(refused))
            return None
        form.pending_image.data = stored.name
        form.remove_image.data = False
        # The size of the largest variant, as a kept upload is measured.
        return _described(form, stored.name, *stored.size_at(media.WIDTHS[-1]))
    if form.remove_image.data:
        form.pending_image.data = ""
        return NO_IMAGE
    if form.pending_image.data:
        kept = media.find_image(form.pending_image.data)
        if kept is None:
            form.pending_image.data = ""
            add_error(
                form.image, _("The image chosen before is gone. Choose it again.")
            )
            return None
        return _described(form, kept.name, kept.width, kept.height)
    if item is not None and item.image:
        return _described(form, item.image, item.image_width, item.image_height)
    return NO_IMAGE


def _described(
    form: ItemForm, name: str, width: int | None, height: int | None
) -> ItemImage:
    """An image with the alt text and decorative mark of the form."""
    decorative = bool(form.image_decorative.data)
    alt = "" if decorative else form.image_alt.data
    return ItemImage(name, alt, decorative, width, height)


def shown_image(form: ItemForm, item: Item | None) -> str:
    """The file name of the thumbnail the form shows: the upload kept from before,
    else the item's image, else ""."""
    name = form.pending_image.data or (item.image if item is not None else "")
    return media.variant_name(name, media.WIDTHS[0]) if name else ""


def image_to_erase(form: ItemForm, item: Item, image: ItemImage | None) -> str:
    """The item's present image when the form asks to erase it and this save
    (its image, from take_image) removes or replaces it; "" otherwise. Asking to
    erase an image that stays puts an error on the form."""
    if image is None or not form.erase_image.data or not item.image:
        return ""
    if form.erase_target.data != item.image:
        add_error(
            form.erase_image,
            _(
                "The image was changed by someone else meanwhile. Look at the "
                "present one before you erase it."
            ),
        )
        return ""
    if image.name == item.image:
        add_error(
            form.erase_image,
            _("Remove the image or choose another one to erase the present one."),
        )
        return ""
    return item.image


def reopened(form: ItemForm, item: Item) -> None:
    """After an edit conflict: "erase" now means the item's present image, and
    must be ticked again."""
    form.erase_target.data = item.image
    form.erase_image.data = False


def finish_erasure(erasure: image_erasure.Erasure | None) -> None:
    """Once the save is committed, delete an erased picture's files and say what
    became of it."""
    if erasure is None:
        return
    report = image_erasure.remove_files(erasure)
    if report.files:
        flash(
            _(
                "The old image is erased: no earlier version holds it and its file "
                "is deleted."
            ),
            "success",
        )
    elif erasure.other_items:
        flash(
            ngettext(
                "The old image is taken out of this item's earlier versions. "
                "%(num)d other item still shows it, so its file stays until it is "
                "erased there too.",
                "The old image is taken out of this item's earlier versions. "
                "%(num)d other items still show it, so its file stays until it is "
                "erased there too.",
                erasure.other_items,
            ),
            "info",
        )
    else:
        flash(
            _(
                "The old image is taken out of this item's earlier versions. Its "
                "file stays for now: it is in use elsewhere (as the logo) or could "
                "not be deleted; the daily clean-up removes it once nothing uses it."
            ),
            "info",
        )


def earlier_images(
    item: Item, kept: Sequence[Revision] | None = None
) -> list[tuple[str, str]]:
    """The pictures the item showed before that can still be erased (from its
    revisions, `kept` if already read), each with its thumbnail's file name."""
    return [
        (name, media.variant_name(name, media.WIDTHS[0]))
        for name in image_erasure.earlier_images(item, kept)
    ]
