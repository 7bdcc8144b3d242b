#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) the vmd authors
# MIT License (see the vmd source tree)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: vmd_guest
short_description: Define, start, stop, restart and remove Xen guests managed by vmd
version_added: "0.1.0"
description:
  - Manages one guest of vmd, the Xen VM lifecycle daemon, through its JSON-RPC socket on the
    managed host (Ansible's own connection, SSH say, reaches the host; the module talks to the
    local socket there).
  - The guest's configuration is xl.cfg text (I(xlcfg)) or its JSON form (I(config)), as
    C(vm.define) takes them. Whether the configuration changed is decided by what it means, not
    by how it is written - the desired config and the stored one are both translated by vmd
    (C(vm.define) with C(dry_run)) and the resulting C(libxl_domain_config) documents compared.
    Comments, layout, key order, quoting, a default written out or the spec string form of a
    disk or vif do not count as changes. A uuid or vif MAC that the desired config does not give
    is taken from the defined guest (vifs by position), so a guest keeps its identity.
  - vmd has no method that changes a definition in place. A changed configuration is applied by
    removing the definition (never its disks) and defining the new one with the guest's uuid,
    MACs and autostart flag. Should the new definition be refused (a MAC another guest uses,
    say), the old one is defined again (and a guest that was shut down for it is started
    again), and the task fails with vmd's message.
  - A definition can only be replaced while the guest has no domain. With C(state=running) or
    C(state=restarted), a running guest whose configuration changed is shut down (C(vm.shutdown),
    waiting up to I(timeout) seconds, then C(vm.destroy) if C(force=true)), redefined and
    started again. With C(state=present), a guest that has a domain and whose configuration
    changed makes the task fail (nothing is changed) unless C(restart_on_change=true), which
    does the same as C(state=running) for a guest that was running (or paused, shutting down or
    rebooting), and leaves a guest stopped whose domain had already powered off or crashed.
    With C(state=stopped) the guest is shut down first anyway.
  - Guests in a passing state (starting, stopping, rebooting) are waited for first, up to
    I(timeout) seconds; a guest still rebooting then (it ignores its reboot request) is
    destroyed with I(force=true), and the task fails without.
author:
  - vmd maintainers (@maintainers)
requirements:
  - vmd (protocol 1) running on the managed host, and a user that may write on its socket
    (root, vmd's own user or a member of its writers' group)
options:
  name:
    description:
      - The guest's name (letters, digits, C(.), C(_), C(-); at most 64 bytes).
      - The configuration must name the same guest; a configuration without a name gets this
        one.
    type: str
    required: true
  state:
    description:
      - C(present) - the guest is defined (with I(xlcfg) or I(config) if given); whether it
        runs is left alone.
      - C(running) - defined and running; a paused guest is unpaused, a guest whose domain has
        powered off or crashed (kept for inspection) is destroyed and started again.
      - C(stopped) - defined and not running; a running guest is shut down cleanly, waiting up
        to I(timeout) seconds (then destroyed if C(force=true)); a paused guest is unpaused
        first so that it can obey; a domain that powered off or crashed is destroyed.
      - C(restarted) - defined and started afresh - a running guest is rebooted (C(vm.reboot))
        and the task waits until it runs in a new domain, a stopped one is started. Always
        reports a change, as restarting a service does.
      - C(absent) - not defined; a guest with a domain is stopped first, as for C(stopped).
    type: str
    choices: [present, running, stopped, restarted, absent]
    default: present
  xlcfg:
    description:
      - The guest's configuration as xl.cfg text (xl.cfg(5), vmd-xlcfg(5)); vmd stores it as
        written (comments kept), adding only a uuid and the vif MACs it does not give.
      - Mutually exclusive with I(config). Needed to define a guest that does not exist yet;
        when neither is given, the definition of an existing guest is left as it is.
    type: str
  config:
    description:
      - The guest's configuration as the JSON form of xl.cfg (vmd protocol section 6.2) - one
        member per xl.cfg key, strings, integers, booleans and lists; the items of C(disk) and
        C(vif) may also be mappings (disk C(target), C(vdev), C(format), C(access),
        C(backendtype), C(script), C(cdrom); vif any of its options such as C(mac),
        C(bridge), C(ip)).
      - A value templated with Jinja arrives as a string (C("512")); vmd reads it as the
        same number, as xl does, but the stored text then quotes it. I(xlcfg) text written
        from a template does not have that.
      - Mutually exclusive with I(xlcfg).
    type: dict
  socket:
    description:
      - vmd's socket on the managed host.
    type: path
    default: /run/vmd/vmd.sock
  autostart:
    description:
      - Whether vmd starts the guest when the host boots (C(vm.autostart)). Left as it is when
        not given (also across a redefinition).
    type: bool
  timeout:
    description:
      - Seconds to wait for a clean shutdown (C(vm.shutdown) with C(wait)), for a reboot to
        bring the guest back in a new domain, and for a guest in a passing state to settle
        (1 to 86400).
    type: int
    default: 300
  force:
    description:
      - When a guest does not shut down (or come back from a reboot) within I(timeout), destroy
        its domain (C(vm.destroy), a hard power-off) and go on. Without it the task fails then
        and the guest keeps running with its shutdown (or reboot) request pending.
    type: bool
    default: false
  restart_on_change:
    description:
      - With C(state=present), allow a guest that has a domain to be shut down, redefined and
        started again when its configuration changed. Without it such a task fails and changes
        nothing.
    type: bool
    default: false
  delete_disks:
    description:
      - With C(state=absent), also delete the disk images that vmd itself created for the guest
        (the copies C(vm.clone) made for it), as C(vm.remove) does with C(delete_disks). Images
        named in the guest's own configuration are never deleted; I(removed.kept) lists them.
      - A guest redefined by this module (a changed configuration) no longer counts as owning
        the copies vm.clone made for it, as vmd forgets that with the old definition.
    type: bool
    default: false
notes:
  - Check mode is supported - the module reports what it would do (I(actions)) and changes
    nothing. With C(--diff), the before and after are the guest's stored xl.cfg text (as
    C(vm.config) returns it) under two comment lines giving its state (with its domain id) and
    its autostart flag. In check mode the after text is the text that would be defined (for
    I(config), as vmd would write it; MACs that vmd would generate are not in it).
  - Errors from vmd fail the task with vmd's message, and I(code), I(data) and I(method) of
    the error.
seealso:
  - module: vmd.xen.vmd_info
'''

EXAMPLES = r'''
- name: Define a guest from xl.cfg text, and keep it running
  vmd.xen.vmd_guest:
    name: web
    state: running
    xlcfg: |
      name = "web"
      type = "pvh"
      kernel = "/var/lib/vmd/images/vmlinuz"
      cmdline = "root=/dev/xvda ro console=hvc0"
      memory = 1024
      vcpus = 2
      disk = [ "format=raw, vdev=xvda, access=rw, target=/var/lib/vmd/images/web.img" ]
      vif = [ "bridge=xenbr0" ]

- name: The same, as a mapping, started when the host boots
  vmd.xen.vmd_guest:
    name: db
    state: running
    autostart: true
    config:
      type: pvh
      kernel: /var/lib/vmd/images/vmlinuz
      memory: 2048
      vcpus: 2
      disk:
        - {target: /var/lib/vmd/images/db.img, vdev: xvda, format: raw, access: rw}
      vif:
        - {bridge: xenbr0}

- name: Give web more memory; it is running, so let it be restarted for that
  vmd.xen.vmd_guest:
    name: web
    state: present
    restart_on_change: true
    timeout: 120
    force: true
    xlcfg: "{{ lookup('template', 'web.cfg.j2') }}"

- name: Shut a guest down, destroying it if it does not obey within a minute
  vmd.xen.vmd_guest:
    name: web
    state: stopped
    timeout: 60
    force: true

- name: Remove a clone and the disk copies vmd made for it
  vmd.xen.vmd_guest:
    name: web-test
    state: absent
    delete_disks: true
'''

RETURN = r'''
vm:
  description:
    - The guest as C(vm.info) shows it after the task (in check mode - as it is now); null when
      it is absent.
  returned: always
  type: dict
  sample:
    name: web
    uuid: 03de105d-639d-497f-b4f9-6c169f28ce30
    type: pvh
    state: running
    domid: 2
    vcpus: 2
    memory: 1024
    managed: true
    autostart: false
    maxvcpus: 2
    maxmem: 1024
    on_poweroff: destroy
    on_reboot: restart
    on_crash: destroy
    on_watchdog: destroy
    console: pv
    vifs: [{index: 0, mac: "00:16:3e:09:e3:7b", bridge: xenbr0, backend: vif2.0}]
    disks: [{vdev: xvda, target: /var/lib/vmd/images/web.img, cdrom: false, access: rw}]
actions:
  description:
    - What the task did (in check mode - would do), in order. C(define) (a new guest),
      C(stop) (clean shutdown, or destroy of a domain that powered off or crashed, or after a
      timeout with I(force)), C(redefine) (remove and define again, identity kept), C(start),
      C(unpause), C(reboot), C(autostart), C(remove).
  returned: always
  type: list
  elements: str
  sample: [stop, redefine, start]
xlcfg:
  description:
    - The guest's stored xl.cfg text after the task (C(vm.config)); in check mode the text it
      would have. Absent when the guest is absent.
  returned: when the guest is defined
  type: str
  sample: "name = \"web\"\nmemory = 1024\nuuid = \"03de105d-639d-497f-b4f9-6c169f28ce30\"\n"
config:
  description:
    - The JSON form of the stored text after the task (C(vm.config)); not in check mode.
  returned: when the guest is defined, not in check mode
  type: dict
  sample: {name: web, memory: 1024, uuid: 03de105d-639d-497f-b4f9-6c169f28ce30}
removed:
  description:
    - The result of C(vm.remove) - the guest's disk targets, in C(deleted) or C(kept).
  returned: when C(state=absent) removed the guest, not in check mode
  type: dict
  sample: {name: web-test, deleted: [/var/lib/vmd/images/web-test.img], kept: []}
  contains:
    deleted:
      description: Disk images vmd deleted.
      type: list
      elements: str
    kept:
      description: Disk targets left in place.
      type: list
      elements: str
code:
  description: The error code vmd answered with (protocol section 5).
  returned: failed on an error from vmd
  type: int
  sample: 4
data:
  description: The error's data from vmd (for example C(key) and C(line) of an invalid config).
  returned: failed on an error from vmd
  type: dict
  sample: {key: memmory, line: 3}
method:
  description: The vmd method that failed.
  returned: failed on an error from vmd
  type: str
  sample: vm.define
'''

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.vmd.xen.plugins.module_utils.vmd import (
    Client, VmdConnectionError, VmdError, XlcfgSyntaxError, NOT_FOUND, TIMEOUT,
    config_to_text, config_with_identity, text_keys, text_with_identity)

# States a guest passes through on its own; the module waits them out.
PASSING = ('starting', 'stopping', 'rebooting')
# States in which a guest counts as running for restart_on_change.
RUNNING_LIKE = ('running', 'paused', 'shutting-down')
POLL = 0.2


class Guest:
    def __init__(self, module):
        self.m = module
        self.p = module.params
        self.name = self.p['name']
        self.timeout = self.p['timeout']
        # Long calls (vm.shutdown with wait) get their own, longer timeout.
        self.c = Client(self.p['socket'], timeout=max(120, self.timeout + 60))
        self.actions = []   # the steps done (in check mode: to be done)
        self.seen = None    # the guest as found, when settle() had to destroy it

    # ---- talking to vmd ------------------------------------------------------------------

    def fail(self, msg, **kw):
        self.c.close()
        self.m.fail_json(msg=msg, actions=self.actions, **kw)

    def call(self, method, params=None, timeout=None):
        try:
            return self.c.call(method, params, timeout=timeout)
        except VmdError as e:
            self.fail_rpc(e)
        except VmdConnectionError as e:
            self.fail(str(e))

    def fail_rpc(self, e, prefix=''):
        self.fail('%s%s: %s (vmd error code %s)' % (prefix, e.method, e.message, e.code),
                  code=e.code, data=e.data, method=e.method)

    def info(self):
        try:
            return self.c.call('vm.info', {'name': self.name})
        except VmdError as e:
            if e.code == NOT_FOUND:
                return None
            self.fail_rpc(e)
        except VmdConnectionError as e:
            self.fail(str(e))

    def wait(self, pred):
        """Polls vm.info until pred(info) holds; returns the info, or None on timeout."""
        deadline = time.monotonic() + self.timeout
        while True:
            vm = self.info()
            if vm is None or pred(vm):
                return vm
            if time.monotonic() > deadline:
                return None
            time.sleep(POLL)

    def settle(self, vm, first=False):
        """Waits until the guest is in no passing state. A guest whose reboot does not
        end within the timeout (it ignores the request) is destroyed with force, as the
        task's first step."""
        if vm is None or vm['state'] not in PASSING:
            return vm
        got = self.wait(lambda v: v['state'] not in PASSING)
        if got is not None:
            return got
        now = self.info()
        if first and now['state'] == 'rebooting' and self.p['force']:
            self.seen = now
            self.actions.append('stop')
            if self.m.check_mode:
                return dict(now, state='stopped', domid=None)
            self.call('vm.destroy', {'name': self.name})
            return self.info()
        self.fail('guest %s is still %s after %d s%s' % (
            self.name, now['state'], self.timeout,
            ' (the guest has not obeyed its reboot request; force: true destroys it)'
            if now['state'] == 'rebooting' else ''))

    # ---- the desired configuration -------------------------------------------------------

    def desired(self):
        """(kind, value) of the configuration given, name filled in; None if none."""
        if self.p['xlcfg'] is not None:
            text = self.p['xlcfg']
            keys = text_keys(text)
            if keys is not None and 'name' not in keys:
                text = text_with_identity(text, name=self.name)
            return 'xlcfg', text
        if self.p['config'] is not None:
            return 'config', config_with_identity(self.p['config'], name=self.name)
        return None

    def dry_run(self, kind, value, quiet=False):
        params = {kind: value, 'dry_run': True}
        if kind == 'xlcfg':
            params['filename'] = 'xlcfg'
        try:
            return self.c.call('vm.define', params)
        except VmdError as e:
            if quiet:
                return None
            self.fail_rpc(e)
        except VmdConnectionError as e:
            self.fail(str(e))

    def with_identity(self, kind, value, vm):
        macs = [v['mac'] for v in sorted(vm.get('vifs', []), key=lambda v: v['index'])]
        if kind == 'config':
            return config_with_identity(value, uuid=vm['uuid'], macs=macs)
        try:
            return text_with_identity(value, uuid=vm['uuid'], macs=macs)
        except XlcfgSyntaxError as e:
            self.fail('cannot carry the guest\'s uuid and MACs into the xl.cfg text given (%s); '
                      'vmd accepted it, so this is a bug of the module' % e)

    @staticmethod
    def as_text(kind, value):
        return value if kind == 'xlcfg' else config_to_text(value)

    # ---- steps ---------------------------------------------------------------------------

    def bring_down(self):
        vm = self.settle(self.info())
        state = vm['state']
        if state == 'stopped':
            return
        if state in ('shutdown', 'crashed'):
            self.call('vm.destroy', {'name': self.name})
            return
        if state == 'paused':
            self.call('vm.unpause', {'name': self.name})
        try:
            self.c.call('vm.shutdown', {'name': self.name, 'wait': True,
                                        'timeout': self.timeout},
                        timeout=self.timeout + 60)
        except VmdError as e:
            if e.code != TIMEOUT:
                self.fail_rpc(e)
            if not self.p['force']:
                self.fail('guest %s did not shut down within %d s; it keeps running with its '
                          'shutdown request pending (set force: true to destroy it after the '
                          'timeout, or give it a longer timeout)' % (self.name, self.timeout),
                          code=e.code, data=e.data, method=e.method)
            self.call('vm.destroy', {'name': self.name})
        except VmdConnectionError as e:
            self.fail(str(e))

    def reboot(self):
        vm = self.info()
        old = vm['domid']
        self.call('vm.reboot', {'name': self.name})
        back = self.wait(lambda v: v['state'] == 'running' and v['domid'] != old)
        if back is not None:
            return
        if not self.p['force']:
            self.fail('guest %s did not come back from its reboot within %d s (it is %s); set '
                      'force: true to destroy and start it after the timeout' %
                      (self.name, self.timeout, self.info()['state']))
        self.call('vm.destroy', {'name': self.name})
        self.call('vm.start', {'name': self.name})

    def redefine(self, kind, value, old_text, old_autostart, start_again):
        """vm.remove + vm.define of the new config; if vmd refuses that, the old text is
        defined again (and the guest started again if it was stopped for this), and the task
        fails with vmd's message."""
        self.call('vm.remove', {'name': self.name})
        try:
            res = self.c.call('vm.define', {kind: value})
        except (VmdError, VmdConnectionError) as e:
            restored = 'the old one restored'
            try:
                self.c.call('vm.define', {'xlcfg': old_text})
                if old_autostart:
                    self.c.call('vm.autostart', {'name': self.name, 'enabled': True})
            except (VmdError, VmdConnectionError) as e2:
                self.fail('the new definition of %s was refused (%s), and defining the old one '
                          'again failed too (%s): the guest is not defined now; its old '
                          'xl.cfg text is in old_xlcfg' % (self.name, e, e2), old_xlcfg=old_text)
            if start_again:
                try:
                    self.c.call('vm.start', {'name': self.name})
                    restored += ' and started again'
                except (VmdError, VmdConnectionError) as e2:
                    restored += ' but starting it again failed (%s)' % e2
            if isinstance(e, VmdError):
                self.fail_rpc(e, prefix='the new definition was refused and %s: ' % restored)
            self.fail('%s; the old definition was restored' % e)
        if old_autostart:
            self.call('vm.autostart', {'name': self.name, 'enabled': True})
        return res

    # ---- the task --------------------------------------------------------------------------

    def run(self):
        p = self.p
        want = p['state']
        vm = self.settle(self.info(), first=True)
        if vm is not None and not vm['managed']:
            self.fail('%s is a domain that vmd does not manage (not one of its guests)' %
                      self.name)
        stored = self.call('vm.config', {'name': self.name}) if vm else None
        before = self.describe(self.seen or vm, stored['xlcfg'] if stored else None)

        if want == 'absent':
            steps = [] if vm is None else (['stop'] if vm['state'] != 'stopped' else []) + [
                'remove']
            return self.finish(steps, before, vm, None, None)

        target = self.desired()
        if vm is None and target is None:
            self.fail('guest %s is not defined, and neither xlcfg nor config was given to '
                      'define it' % self.name)
        define = None       # (kind, value) to define
        changed_cfg = False
        if target is not None:
            res = self.dry_run(*target)
            if res.get('name') != self.name:
                self.fail('the configuration names guest %r, but name is %r' %
                          (res.get('name'), self.name))
            for w in res.get('warnings') or []:
                self.m.warn('vmd: %s' % w)
            if vm is None:
                define = target
            else:
                define = (target[0], self.with_identity(target[0], target[1], vm))
                wanted = self.dry_run(*define)
                have = self.dry_run('xlcfg', stored['xlcfg'], quiet=True)
                changed_cfg = have is None or (wanted['libxl_domain_config'] !=
                                               have['libxl_domain_config'])

        steps = []
        state = vm['state'] if vm else None
        restarted = False
        if vm is None:
            steps.append('define')
            state = 'stopped'
        elif changed_cfg:
            if vm.get('install_phase') == 'installing':
                self.fail('guest %s is being installed (vm.install); its definition cannot be '
                          'replaced before the install is done' % self.name)
            if state != 'stopped':
                if want == 'present' and not p['restart_on_change']:
                    self.fail('guest %s is %s and its configuration differs from the one given; '
                              'vmd can only replace the definition of a guest without a domain. '
                              'Set restart_on_change: true (or state: running) to shut it down, '
                              'redefine it and start it again, or state: stopped' %
                              (self.name, state))
                again = want in ('running', 'restarted') or (want == 'present' and
                                                             state in RUNNING_LIKE)
                steps += ['stop', 'redefine'] + (['start'] if again else [])
                restarted = again
                state = 'running' if again else 'stopped'
            else:
                steps.append('redefine')
        if want == 'running':
            if state == 'paused':
                steps.append('unpause')
            elif state in ('shutting-down', 'shutdown', 'crashed'):
                steps += ['stop', 'start']
            elif state == 'stopped':
                steps.append('start')
        elif want == 'stopped':
            if state != 'stopped':
                steps.append('stop')
        elif want == 'restarted' and not restarted:
            if state == 'running':
                steps.append('reboot')
            elif state == 'paused':
                steps += ['unpause', 'reboot']
            elif state == 'stopped':
                steps.append('start')
            else:
                steps += ['stop', 'start']
        autostart = vm['autostart'] if vm else False
        if p['autostart'] is not None and p['autostart'] != autostart:
            steps.append('autostart')
        return self.finish(steps, before, vm, stored, define)

    def finish(self, steps, before, vm, stored, define):
        if self.m.check_mode:
            self.actions += steps
            after = self.predict(steps, vm, stored, define)
            result = dict(vm=vm)
            if after is not None:
                result['xlcfg'] = after[1]
            return self.exit(before, self.describe(*after) if after else '', **result)
        result = {}
        for step in steps:
            self.actions.append(step)
            if step == 'define':
                self.call('vm.define', {define[0]: define[1]})
            elif step == 'redefine':
                at = steps.index(step)  # a guest stopped for this runs again on failure
                self.redefine(define[0], define[1], stored['xlcfg'], vm['autostart'],
                              start_again='stop' in steps[:at] and 'start' in steps[at:])
            elif step == 'stop':
                self.bring_down()
            elif step == 'start':
                self.call('vm.start', {'name': self.name})
            elif step == 'unpause':
                self.call('vm.unpause', {'name': self.name})
            elif step == 'reboot':
                self.reboot()
            elif step == 'autostart':
                self.call('vm.autostart', {'name': self.name, 'enabled': self.p['autostart']})
            elif step == 'remove':
                result['removed'] = self.call('vm.remove', {'name': self.name,
                                                            'delete_disks': self.p['delete_disks']})
        now = self.info()
        after = ''
        if now is not None:
            cfg = self.call('vm.config', {'name': self.name})
            result.update(xlcfg=cfg['xlcfg'], config=cfg['config'])
            after = self.describe(now, cfg['xlcfg'])
        return self.exit(before, after, vm=now, **result)

    def predict(self, steps, vm, stored, define):
        """(vm-like dict, text) as the guest would be after steps; None for absent."""
        if 'remove' in steps:
            return None
        state = dict(vm) if vm else {'state': 'stopped', 'domid': None, 'autostart': False}
        for step in steps:
            if step in ('start', 'reboot', 'unpause'):
                state.update(state='running', domid='new' if step != 'unpause' else
                             state.get('domid'))
            elif step in ('stop', 'define', 'redefine'):
                if step == 'stop' or state['state'] == 'stopped':
                    state.update(state='stopped', domid=None)
            elif step == 'autostart':
                state['autostart'] = self.p['autostart']
        if define is not None and ('define' in steps or 'redefine' in steps):
            text = self.as_text(*define)
        else:
            text = stored['xlcfg']
        return state, text

    @staticmethod
    def describe(vm, text):
        """The diff's view of a guest: its state and autostart flag, then its xl.cfg text."""
        if vm is None:
            return ''
        dom = vm.get('domid')
        if dom == 'new':
            where = ' (a new domain)'
        else:
            where = '' if dom is None else ' (domain %s)' % dom
        return '# state: %s%s\n# autostart: %s\n%s' % (vm['state'], where,
                                                       'true' if vm['autostart'] else 'false',
                                                       text)

    def exit(self, before, after, **result):
        self.c.close()
        header = 'vmd guest %s' % self.name
        self.m.exit_json(changed=bool(self.actions), actions=self.actions,
                         diff=dict(before=before, after=after, before_header=header,
                                   after_header=header), **result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type='str', required=True),
            state=dict(type='str', default='present',
                       choices=['present', 'running', 'stopped', 'restarted', 'absent']),
            xlcfg=dict(type='str'),
            config=dict(type='dict'),
            socket=dict(type='path', default='/run/vmd/vmd.sock'),
            autostart=dict(type='bool'),
            timeout=dict(type='int', default=300),
            force=dict(type='bool', default=False),
            restart_on_change=dict(type='bool', default=False),
            delete_disks=dict(type='bool', default=False),
        ),
        mutually_exclusive=[('xlcfg', 'config')],
        supports_check_mode=True,
    )
    if not 1 <= module.params['timeout'] <= 86400:
        module.fail_json(msg='timeout must be 1 to 86400 seconds, not %d' %
                         module.params['timeout'])
    Guest(module).run()


if __name__ == '__main__':
    main()
