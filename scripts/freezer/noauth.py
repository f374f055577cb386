"""Stand-in for keystonemiddleware's ``authtoken`` in a freezer-api run by the tests.

FOR A TEST SERVER ON 127.0.0.1 ONLY. This filter trusts every caller: anyone who can reach
the port can read and write every project. scripts/freezer-api.sh binds the server to the
loopback address and nothing else; never put this filter in front of a reachable server.

freezer-api 19.0.0 has no usable pipeline without keystone: the ``context`` filter
(``ContextMiddleware``) refuses a request unless ``X-Identity-Status`` is ``Confirmed``, which
``authtoken`` sets after validating a token. This filter takes the place of ``authtoken`` in
the paste pipeline and fills in the identity headers ``authtoken`` would have produced; the
server's own context filter, policy rules (in-code defaults) and v2 application then run as
shipped. So a caller who sends its own ``X-Project-Id`` for another project's URL, or roles
that the policy does not know, is refused by the real server, as it would be in production.

Headers, in the WSGI environ:

``X-Identity-Status``
    always ``Confirmed`` (whatever the caller sent).
``X-Project-Id``
    the caller's, else the ``{project_id}`` of a ``/v2/{project_id}/...`` path.
``X-User-Id``
    the caller's, else ``default_user`` from the filter's configuration.
``X-Roles``
    the caller's, else ``default_roles`` from the filter's configuration (comma separated;
    ``member,reader`` reads and writes one project, ``admin`` also lists every project's jobs).

``X-Auth-Token`` is neither required nor looked at.

Paste configuration::

    [filter:noauth]
    paste.filter_factory = noauth:filter_factory
    default_roles = member,reader
    default_user = freezer-test-user
"""


def _project_of(path):
    """The project id of ``/v2/{project_id}/...``, or None for any other path."""
    parts = path.split("/")
    # "/v2/p/backups" -> ["", "v2", "p", "backups"]
    if len(parts) >= 3 and parts[0] == "" and parts[1] == "v2" and parts[2]:
        return parts[2]
    return None


class TrustingIdentity:
    """WSGI middleware setting the identity headers keystone's authtoken would set."""

    def __init__(self, app, roles, user):
        self._app = app
        self._roles = roles
        self._user = user

    def __call__(self, environ, start_response):
        environ["HTTP_X_IDENTITY_STATUS"] = "Confirmed"
        if not environ.get("HTTP_X_PROJECT_ID"):
            project = _project_of(environ.get("PATH_INFO", ""))
            if project is not None:
                environ["HTTP_X_PROJECT_ID"] = project
        if not environ.get("HTTP_X_USER_ID"):
            environ["HTTP_X_USER_ID"] = self._user
        if not environ.get("HTTP_X_ROLES"):
            environ["HTTP_X_ROLES"] = self._roles
        return self._app(environ, start_response)


def filter_factory(global_conf, default_roles="member,reader",
                   default_user="freezer-test-user", **unused):
    """Paste filter factory (``paste.filter_factory = noauth:filter_factory``)."""
    roles = ",".join(r.strip() for r in default_roles.split(",") if r.strip())
    if not roles:
        raise ValueError("noauth: default_roles is empty")

    def wrap(app):
        return TrustingIdentity(app, roles, default_user)

    return wrap
