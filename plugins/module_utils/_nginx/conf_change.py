# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What both nginx modules do around their edit: read the file under the lock, plan the new text, and (not in check
mode) check that the conf passed `nginx -t` before, write it validated, reload when asked; with the diff."""

from __future__ import annotations

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._nginx import nginx_cli, validated_write
from ansible_collections.mcpops.runbooks.plugins.module_utils._nginx.conf_text import ConfError


def change(params, check_mode, plan, who, run_command=None):
    """plan(text) -> (new_text, facts dict for the result). Returns the result; raises TaskError (nothing changed,
    or the old text back) naming the file and what nginx said."""
    path = params["path"]
    try:
        real = validated_write.conf_file(path)
        nginx = nginx_cli.Nginx(params.get("nginx_binary"), params["nginx_conf"], params.get("nginx_prefix"), run_command)
        with validated_write.DirectoryLock(real):
            old = validated_write.read(real)
            try:
                text = old.decode("utf-8")
            except UnicodeDecodeError:
                raise ConfError("%s is not UTF-8 text" % path) from None
            new_text, facts = plan(text)
            changed = new_text != text
            result = dict(changed=changed, path=real, reloaded=False, **facts)
            if changed:
                result["diff"] = dict(before=text, after=new_text, before_header=real, after_header=real)
            if not changed or check_mode:
                return result
            ok, said = nginx.test()
            if not ok:
                raise TaskError("%s refused: the nginx conf %s fails nginx -t before any change, so %s was not "
                                "touched: %s" % (who, params["nginx_conf"], path, said), dict(changed=False))
            try:
                validated_write.write_checked(real, old, new_text.encode("utf-8"), nginx)
            except validated_write.Rejected as exc:
                raise TaskError("%s: nginx -t rejected the new %s, so its old text is back (byte for byte) and nginx "
                                "was not reloaded: %s" % (who, path, exc.said), dict(changed=False))
    except ConfError as exc:
        raise TaskError("%s refused: %s: %s. Nothing was changed." % (who, path, exc.msg), dict(changed=False))
    except OSError as exc:
        raise TaskError("%s could not edit %s: %s" % (who, path, exc.strerror or exc), dict(changed=False))
    if params.get("reload"):
        ok, said, confirmed = nginx.reload()
        if not ok:
            raise TaskError("%s: %s was changed and passes nginx -t, but nginx -s reload failed (is nginx running with "
                            "this conf and prefix?): %s" % (who, path, said), result)
        result.update(reloaded=True, reload_confirmed=confirmed)
        if confirmed is False:
            raise TaskError("%s: %s was changed and passes nginx -t, but nginx started no worker with it within %.0fs "
                            "of the reload (it keeps serving the old conf): see its error log" % (who, path, nginx_cli.RELOAD_WAIT_SECONDS),
                            result)
    return result
