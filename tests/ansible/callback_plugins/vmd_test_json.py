# -*- coding: utf-8 -*-
# A stdout callback for tests/ansible: the whole run as one JSON document on stdout, in the
# shape of ansible.posix's json callback (which Debian's ansible-core does not ship):
# {"plays": [{"play": {"name"}, "tasks": [{"task": {"name"}, "hosts": {HOST: RESULT}}]}],
#  "stats": {HOST: {"ok", "changed", "failures", "unreachable", "skipped", "rescued",
#  "ignored"}}}. RESULT is the module's result as Ansible keeps it (diff included).

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r'''
name: vmd_test_json
type: stdout
short_description: the run as one JSON document (tests/ansible)
description:
  - Prints the results of every task on every host, and the recap, as JSON at the end.
'''


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'stdout'
    CALLBACK_NAME = 'vmd_test_json'

    def __init__(self, display=None):
        super(CallbackModule, self).__init__(display)
        self.plays = []

    def v2_playbook_on_play_start(self, play):
        self.plays.append({'play': {'name': play.get_name()}, 'tasks': []})

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.plays[-1]['tasks'].append({'task': {'name': task.get_name()}, 'hosts': {}})

    def _record(self, result, **extra):
        r = dict(result._result)
        r.update(extra)
        self.plays[-1]['tasks'][-1]['hosts'][result._host.get_name()] = r

    def v2_runner_on_ok(self, result):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, failed=True)

    def v2_runner_on_skipped(self, result):
        self._record(result, skipped=True)

    def v2_runner_on_unreachable(self, result):
        self._record(result, unreachable=True)

    def v2_playbook_on_stats(self, stats):
        hosts = sorted(stats.processed.keys())
        out = {'plays': self.plays,
               'stats': dict((h, stats.summarize(h)) for h in hosts)}
        self._display.display(json.dumps(out, indent=1, sort_keys=True, default=str))
