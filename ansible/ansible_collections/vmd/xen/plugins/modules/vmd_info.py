#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) the vmd authors
# MIT License (see the vmd source tree)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: vmd_info
short_description: What vmd knows about its Xen guests
version_added: "0.1.0"
description:
  - Lists the guests of vmd, the Xen VM lifecycle daemon, on the managed host - every defined
    guest whatever its state, and the domains vmd does not manage (C(managed=false)) - each with
    the details of C(vm.info). Changes nothing.
  - Read-only, so it also works on vmd's read-only socket (C(/run/vmd/vmd-ro.sock)) as any user.
author:
  - vmd maintainers (@maintainers)
requirements:
  - vmd (protocol 1) running on the managed host
options:
  name:
    description:
      - Only this guest (an empty list when there is none of that name).
    type: str
  socket:
    description:
      - vmd's socket on the managed host.
    type: path
    default: /run/vmd/vmd.sock
  include_config:
    description:
      - Also return each managed guest's stored xl.cfg text (C(vm.config)) in I(guests[].xlcfg).
    type: bool
    default: false
notes:
  - Check mode is supported (nothing is ever changed).
  - I(guests[].addresses) lists the addresses vmd sees a running guest use (its managed
    network's DHCP lease, what a guest agent published in xenstore, as C(vm.addresses) finds
    them), then those configured in its vif specs (C(ip=)) that are not among them; it may be
    empty.
seealso:
  - module: vmd.xen.vmd_guest
'''

EXAMPLES = r'''
- name: All guests of the host
  vmd.xen.vmd_info:
  register: vmd

- name: Show which run
  ansible.builtin.debug:
    msg: "{{ vmd.guests | selectattr('state', 'equalto', 'running') | map(attribute='name') }}"

- name: One guest, with its configuration, through the read-only socket
  vmd.xen.vmd_info:
    name: web
    include_config: true
    socket: /run/vmd/vmd-ro.sock
  register: web
'''

RETURN = r'''
daemon:
  description: What C(daemon.version) answers.
  returned: always
  type: dict
  sample: {version: 0.1.0, protocol: 1, backend: libxl, hypervisor: xen-4.17}
guests:
  description:
    - The guests in C(vm.list) order (the managed ones, then the foreign domains), each as
      C(vm.info) shows it, plus C(addresses).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The guest's name.
      type: str
    uuid:
      description: Its UUID.
      type: str
    state:
      description:
        - C(stopped), C(starting), C(running), C(paused), C(shutting-down), C(rebooting),
          C(stopping), C(shutdown) or C(crashed); foreign domains have their own states.
      type: str
    domid:
      description: The current domain, null without one.
      type: int
    managed:
      description: False for a domain vmd did not create from one of its definitions.
      type: bool
    autostart:
      description: Started by vmd when the host boots.
      type: bool
    vifs:
      description: The network interfaces (index, mac, bridge, ip, backend), managed guests.
      type: list
      elements: dict
    disks:
      description: The disks (vdev, target, cdrom, access), managed guests.
      type: list
      elements: dict
    addresses:
      description:
        - The IP addresses vmd sees the guest use (DHCP leases, a guest agent's), then the
          ones configured in its vif specs (C(ip=)).
      type: list
      elements: str
    xlcfg:
      description: The stored xl.cfg text (with I(include_config), managed guests).
      type: str
  sample:
    - name: web
      uuid: 03de105d-639d-497f-b4f9-6c169f28ce30
      type: pv
      state: running
      domid: 2
      vcpus: 2
      memory: 512
      managed: true
      autostart: false
      vifs: [{index: 0, mac: "00:16:3e:09:e3:7b", bridge: xenbr0, ip: 192.0.2.10,
              backend: vif2.0}]
      disks: [{vdev: xvda, target: /srv/xen/web.img, cdrom: false, access: rw}]
      addresses: [192.0.2.10]
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.vmd.xen.plugins.module_utils.vmd import (
    Client, VmdConnectionError, VmdError, NOT_FOUND)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type='str'),
            socket=dict(type='path', default='/run/vmd/vmd.sock'),
            include_config=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    c = Client(module.params['socket'])
    name = module.params['name']
    guests = []
    try:
        daemon = c.call('daemon.version')
        vms = c.call('vm.list', {'all': True})['vms']
        for vm in vms:
            if name is not None and vm['name'] != name:
                continue
            try:
                info = c.call('vm.info', {'name': vm['name']})
                if module.params['include_config'] and info['managed']:
                    info['xlcfg'] = c.call('vm.config', {'name': vm['name']})['xlcfg']
            except VmdError as e:
                if e.code == NOT_FOUND:
                    continue  # removed meanwhile
                raise
            seen = [a['address'] for a in info.get('addresses', []) if isinstance(a, dict)]
            configured = [v['ip'] for v in info.get('vifs', []) if v.get('ip')]
            info['addresses'] = seen + [ip for ip in configured if ip not in seen]
            guests.append(info)
    except VmdError as e:
        module.fail_json(msg='%s: %s (vmd error code %s)' % (e.method, e.message, e.code),
                         code=e.code, data=e.data, method=e.method)
    except VmdConnectionError as e:
        module.fail_json(msg=str(e))
    finally:
        c.close()
    module.exit_json(changed=False, daemon=daemon, guests=guests)


if __name__ == '__main__':
    main()
