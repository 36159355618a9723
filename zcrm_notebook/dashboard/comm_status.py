"""The 'idle' status a widget's front end waits for after each of its changes, also for a
change the kernel handles while a cell awaits (private; used by the dashboard).

A widget model in the browser sends one change at a time: the next one waits, in a buffer,
for the kernel's ``status: idle`` message whose parent is the previous change (ipywidgets'
message throttle). ipykernel 7 handles a widget message that reaches the main shell while
a cell awaits (``await dash.wait_async()``) at once, beside the cell, but publishes no
status for it. The model's first change then never ends for the browser: every later
change stays in its buffer, so the kernel keeps the first value (a group-by toggle clicked
``org`` then ``dc`` stayed on ``org``) while the browser shows the last.

:func:`publish_idle_after_concurrent_comms` makes the kernel publish that 'idle' (the
message every other shell request gets; JupyterLab does not count statuses of widget
messages in the kernel's state). Sources: the Jupyter messaging protocol, "Kernel status"
(https://jupyter-client.readthedocs.io/en/stable/messaging.html#kernel-status) and the
widget message throttle of ``@jupyter-widgets/base`` (``WidgetModel._handle_status``).
"""

from __future__ import annotations

import contextvars
import inspect

__all__ = ["publish_idle_after_concurrent_comms"]

_MARK = "_zcrm_idle_after_concurrent_comms"  # set on the kernel once it is wrapped
# the idle statuses published while the current task handles a message concurrently
_idles: contextvars.ContextVar[list | None] = contextvars.ContextVar("zcrm_idles", default=None)


def publish_idle_after_concurrent_comms(kernel) -> bool:
    """Make ``kernel`` publish ``status: idle`` after each message it handles concurrently,
    unless it published one itself (a later ipykernel may).

    Only for a kernel whose ``dispatch_shell`` is a coroutine function taking
    ``concurrent`` (ipykernel 7's path for widget messages while a cell awaits); once per
    kernel; never raises (a kernel it cannot wrap is left as it is).

    Parameters
    ----------
    kernel : ipykernel.kernelbase.Kernel or None
        The running kernel (``get_ipython().kernel``); None does nothing.

    Returns
    -------
    bool
        True if the kernel publishes the status now (also when it did already).
    """
    try:
        if vars(kernel).get(_MARK):
            return True
        dispatch, publish = kernel.dispatch_shell, kernel._publish_status
        if not inspect.iscoroutinefunction(dispatch):
            return False
        if "concurrent" not in inspect.signature(dispatch).parameters:
            return False
        kernel._publish_status = _counting(publish)
        kernel.dispatch_shell = _dispatching(dispatch, publish)
        setattr(kernel, _MARK, True)
    except Exception:  # no kernel, another kind of kernel, attributes that cannot be set
        return False
    return True


def _counting(publish):
    """``publish``, noting the idle statuses of the message the current task handles."""

    def publish_status(status, *args, **kwargs):
        result = publish(status, *args, **kwargs)
        idles = _idles.get()
        if idles is not None and status == "idle":
            idles.append(status)
        return result

    return publish_status


def _dispatching(dispatch, publish):
    """``dispatch``, then an idle for a message handled concurrently that got none."""

    async def dispatch_shell(msg, /, *args, concurrent: bool = False, **kwargs):
        if not concurrent:  # the normal path publishes busy and idle itself
            return await dispatch(msg, *args, **kwargs)
        idles: list = []
        token = _idles.set(idles)  # this task's own: concurrent messages do not mix
        try:
            return await dispatch(msg, *args, concurrent=True, **kwargs)
        finally:
            _idles.reset(token)
            if not idles:
                _publish_idle(publish)

    return dispatch_shell


def _publish_idle(publish) -> None:
    """``status: idle`` with the message just handled as parent (the task's own)."""
    try:
        publish("idle", "shell")
    except Exception:  # a closing kernel: nothing waits for the status any more
        pass
