"""The subscriber's pages: sign up, confirm, preferences, unsubscribe, erase."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    json,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_wtf.csrf import CSRFError, validate_csrf
from werkzeug.wrappers import Response as BaseResponse
from wtforms import ValidationError

# types-WTForms (3.2) predates SelectChoice, which WTForms 3.3 asks for.
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]

from newsletter import consent_text
from newsletter.config import settings
from newsletter.extensions import csrf, db, limiter
from newsletter.i18n import show_in
from newsletter.mail.emails import subscriber_links
from newsletter.models import Subscriber, SubscriberStatus
from newsletter.models.types import utcnow
from newsletter.services import subscriptions, themes
from newsletter.services.subscriptions import Origin
from newsletter.services.tokens import InvalidToken
from newsletter.subscribe.forms import (
    EraseForm,
    PreferencesForm,
    ResendForm,
    SubscribeForm,
)
from newsletter.web import answer_domain_errors

bp = Blueprint("subscribe", __name__)
answer_domain_errors(bp)


def _origin(how: str) -> Origin:
    """Describe where this request came from, for the consent history."""
    return Origin(
        ip=request.remote_addr or "",
        user_agent=request.user_agent.string or "",
        how=how,
    )


def _signup_limit() -> str:
    return settings().signup_rate_limit


def _theme_choices(form: SubscribeForm | PreferencesForm) -> list[int]:
    """Offer the active themes; return their ids."""
    offered = themes.list_themes(active_only=True)
    form.themes.choices = [SelectChoice(t.id, t.name) for t in offered]
    return [t.id for t in offered]


def _csrf_token_is_valid() -> bool:
    """Whether the POST carries our own form's token (an embedded form has none)."""
    try:
        validate_csrf(request.form.get("csrf_token"))
    except (ValidationError, CSRFError):
        return False
    return True


def _language() -> str:
    return str(get_locale())


@bp.route("/subscribe", methods=["GET", "POST"])
@csrf.exempt
@limiter.limit(_signup_limit, methods=["POST"])
def subscribe() -> BaseResponse | tuple[str, int]:
    """Show the sign-up form; a valid POST answers the same for every address:
    a redirect to "check your inbox", so that reloading that page signs up no
    one again."""
    if request.method != "POST":  # GET, or a link scanner's HEAD
        form = SubscribeForm(formdata=request.args or None, meta={"csrf": False})
        offered = _theme_choices(form)
        if not request.args.getlist("themes"):
            form.themes.data = offered
        if request.args.get("email"):
            # An address brought from the short form on the archive pages: say
            # at once if it is not an address, as the full form would.
            form.email.validate(form)
        return _signup_page(form, from_elsewhere=False), 200
    form = SubscribeForm(meta={"csrf": False})
    _theme_choices(form)
    if not _csrf_token_is_valid():
        # A form embedded on another site (or an expired page): show ours, filled in,
        # and change nothing until the visitor presses our button.
        return _signup_page(form, from_elsewhere=True), 200
    if not form.validate():
        return _signup_page(form, from_elsewhere=False), 422
    if not form.website.data:
        subscriptions.request_subscription(
            form.email.data,
            form.name.data,
            form.themes.data,
            _language(),
            _origin("web form"),
            utcnow(),
        )
        db.session.commit()
    return _to_check_inbox()


def _to_check_inbox(new_link: bool = False) -> BaseResponse:
    """Leave the POST for the page that says a message may be on its way (after a
    request for a new link, the page words it so)."""
    return redirect(url_for("subscribe.check_inbox", link=1 if new_link else None), 303)


@bp.get("/subscribe/check-inbox")
def check_inbox() -> tuple[str, int]:
    """Say that a message is on its way if the address can receive one (the page
    knows no address: it is the same for everybody)."""
    new_link = request.args.get("link") == "1"
    return render_template("public/check_inbox.html", new_link=new_link), 200


def _signup_page(form: SubscribeForm, from_elsewhere: bool) -> str:
    return render_template(
        "public/subscribe.html",
        form=form,
        from_elsewhere=from_elsewhere,
        consent=consent_text.consent_text(_language()),
    )


def _invalid_link(expired: bool = False) -> tuple[str, int]:
    """A link that is tampered with, too old or already used: offer a new one."""
    return render_template(
        "public/link_invalid.html", form=ResendForm(), expired=expired
    ), 410


def _new_link_form() -> ResendForm:
    """The empty "send me a new link" form, offered where an old link leads."""
    return ResendForm(formdata=None)


@bp.route("/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str) -> tuple[str, int]:
    """Show a confirm button (a GET or HEAD changes nothing); only a POST confirms."""
    try:
        if request.method != "POST":
            pending, held = subscriptions.awaiting_confirmation(token)
            show_in((held or pending).language)
            return render_template("public/confirm.html", token=token), 200
        subscriber = subscriptions.confirm(
            token, _origin("confirmation link"), utcnow()
        )
    except InvalidToken as error:
        db.session.rollback()
        already = subscriptions.confirmed_by(token)
        if already is not None:
            show_in(already.language)
            return render_template("public/already_confirmed.html"), 200
        return _invalid_link(error.expired)
    db.session.commit()
    show_in(subscriber.language)
    links = subscriber_links(subscriber.id, subscriber.token_version, subscriber.email)
    return render_template(
        "public/confirmed.html", subscriber=subscriber, links=links
    ), 200


@bp.post("/confirm/resend")
@limiter.limit(_signup_limit)
def resend() -> BaseResponse | tuple[str, int]:
    """Ask for a new link (to confirm, or to the person's own page); the answer
    is the same for every address, and the worker decides what to send."""
    form = ResendForm()
    if not form.validate_on_submit():
        return render_template(
            "public/link_invalid.html", form=form, expired=False, asked=True
        ), 422
    subscriptions.resend_confirmation(form.email.data, _origin("new link"), utcnow())
    db.session.commit()
    return _to_check_inbox(new_link=True)


def _preferences_subscriber(token: str) -> Subscriber:
    """An unsubscribed person still reaches the page to see or erase their data."""
    subscriber = subscriptions.subscriber_for(
        "preferences",
        token,
        SubscriberStatus.CONFIRMED,
        SubscriberStatus.BOUNCED,
        SubscriberStatus.UNSUBSCRIBED,
    )
    show_in(subscriber.language)
    return subscriber


@bp.route("/preferences/<token>", methods=["GET", "POST"])
def preferences(token: str) -> tuple[str, int]:
    """Change name, themes and language; links to unsubscribe, download and erase."""
    try:
        subscriber = _preferences_subscriber(token)
    except InvalidToken as error:
        return _invalid_link(error.expired)
    showing = request.method != "POST"
    form = PreferencesForm(obj=subscriber if showing else None)
    _theme_choices(form)
    if showing:
        form.themes.data = [t.id for t in subscriber.themes]
    status = 200
    saved = False
    earlier_language = subscriber.language
    if form.validate_on_submit():
        subscriptions.update_preferences(
            subscriber,
            form.name.data,
            form.themes.data,
            form.language.data,
            _origin("preference page"),
            utcnow(),
        )
        db.session.commit()
        # The person's own pages follow the language of their emails (unless they
        # chose one with the switch): a new choice shows at once, and the page says so.
        show_in(subscriber.language)
        saved = True
    elif form.errors:
        status = 422
    new_language = saved and subscriber.language != earlier_language
    page = _preferences_page(
        subscriber, token, form=form, saved=saved, new_language=new_language
    )
    return page, status


def _preferences_page(
    subscriber: Subscriber,
    token: str,
    form: PreferencesForm | None = None,
    saved: bool = False,
    erase_form: EraseForm | None = None,
    new_language: bool = False,
) -> str:
    """Render the preference page with its three forms."""
    if form is None:
        form = PreferencesForm(formdata=None, obj=subscriber)
        _theme_choices(form)
        form.themes.data = [t.id for t in subscriber.themes]
    return render_template(
        "public/preferences.html",
        form=form,
        token=token,
        subscriber=subscriber,
        saved=saved,
        new_language=new_language,
        erase_form=erase_form or EraseForm(formdata=None),
    )


@bp.after_request
def no_store(response: Response) -> Response:
    """Pages reached by personal links show personal data: keep them out of caches."""
    if request.endpoint and request.endpoint != "subscribe.subscribe":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/preferences/<token>/unsubscribe")
def unsubscribe_from_preferences(token: str) -> tuple[str, int]:
    """Unsubscribe from the preference page."""
    try:
        subscriber = _preferences_subscriber(token)
    except InvalidToken as error:
        return _invalid_link(error.expired)
    subscriptions.unsubscribe(subscriber, _origin("preference page"), utcnow())
    db.session.commit()
    links = subscriber_links(subscriber.id, subscriber.token_version, subscriber.email)
    return render_template("public/unsubscribed.html", links=links), 200


@bp.get("/preferences/<token>/data.json")
def download(token: str) -> Response | tuple[str, int]:
    """Everything stored about the subscriber, as a JSON download."""
    try:
        subscriber = _preferences_subscriber(token)
    except InvalidToken as error:
        return _invalid_link(error.expired)
    body = json.dumps(
        subscriptions.export_data(subscriber), ensure_ascii=False, indent=2
    )
    return Response(
        body,
        mimetype="application/json",
        headers={
            "Content-Disposition": 'attachment; filename="mina-uppgifter.json"',
            "Cache-Control": "no-store",
        },
    )


@bp.post("/preferences/<token>/erase")
def erase(token: str) -> tuple[str, int]:
    """Delete everything about the subscriber once the box is ticked."""
    try:
        subscriber = _preferences_subscriber(token)
    except InvalidToken as error:
        return _invalid_link(error.expired)
    form = EraseForm()
    if not form.validate_on_submit():
        return _preferences_page(subscriber, token, erase_form=form), 422
    subscriptions.erase(subscriber, by="the subscriber")
    db.session.commit()
    return render_template("public/erased.html"), 200


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058: mail clients POST with no cookies and no form token
def unsubscribe(token: str) -> Response | tuple[str, int]:
    """GET and HEAD show a button; a POST unsubscribes (also RFC 8058 one-click)."""
    try:
        holder = subscriptions.unsubscribe_link_holder(token)
    except InvalidToken as error:
        return _invalid_link(error.expired)
    if request.method != "POST":
        if holder is not None:
            show_in(holder.language)
        return render_template(
            "public/unsubscribe.html",
            token=token,
            active=holder is not None,
            form=None if holder else _new_link_form(),
        ), 200
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    how = "one-click (RFC 8058)" if one_click else "unsubscribe page"
    person = subscriptions.unsubscribe_by_token(token, _origin(how), utcnow())
    db.session.commit()
    if one_click:
        return Response("Unsubscribed\n", mimetype="text/plain")
    links = None
    if person is not None:  # the link was current: the person keeps their data page
        show_in(person.language)
        links = subscriber_links(person.id, person.token_version, person.email)
    return render_template(
        "public/unsubscribed.html",
        links=links,
        form=None if links else _new_link_form(),
    ), 200
