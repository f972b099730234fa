# Managed by plumb: local edits are reverted.
# System-wide .bashrc of interactive bash(1) shells.
# New files are private to their owner (ANSSI BP-028 R36); the same value as
# UMASK in /etc/login.defs and /etc/profile.d/plumb-umask.sh.
umask 077
# not interactive: nothing more to do
[ -z "${PS1-}" ] && return
shopt -s checkwinsize
if [ -z "${debian_chroot:-}" ] && [ -r /etc/debian_chroot ]; then
	debian_chroot=$(cat /etc/debian_chroot)
fi
PS1='${debian_chroot:+($debian_chroot)}\u@\h:\w\$ '
