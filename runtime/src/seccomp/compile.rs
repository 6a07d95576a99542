//! `linux.seccomp` to a BPF program for one architecture.
//!
//! The program, in order:
//! 1. `seccomp_data.arch` other than the native token: kill the process.
//! 2. On x86_64, a number with the x32 bit (0x40000000) set, other than -1:
//!    kill the process (x32 calls share the x86_64 token and would
//!    otherwise be looked up as x86_64 numbers).
//! 3. A binary search over the syscall numbers that have rules; each
//!    number's block tries its rules in order and returns the first match's
//!    action, else the default action. Numbers without rules: default.
//!
//! Rule order within one syscall: rules with argument conditions first (in
//! spec order), then the first unconditional rule; the first matching rule
//! decides. Conditions of one rule are ANDed.

use std::collections::BTreeMap;

use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction as Action, LinuxSyscall};

use super::arch::{self, ArchInfo};
use super::args::{self, ArgCond};
use super::bpf::{Asm, Cond, SockFilter, Target};
use super::flags;
use super::syscalls;
use super::SeccompError;

/// `SECCOMP_RET_KILL_PROCESS`.
pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
/// `SECCOMP_RET_KILL_THREAD` (also what `SCMP_ACT_KILL` means).
pub const RET_KILL_THREAD: u32 = 0;
/// `SECCOMP_RET_TRAP`: deliver SIGSYS.
pub const RET_TRAP: u32 = 0x0003_0000;
/// `SECCOMP_RET_ERRNO`, or'ed with the errno.
pub const RET_ERRNO: u32 = 0x0005_0000;
/// `SECCOMP_RET_TRACE`, or'ed with the value passed to the tracer.
pub const RET_TRACE: u32 = 0x7ff0_0000;
/// `SECCOMP_RET_LOG`: allow and log.
pub const RET_LOG: u32 = 0x7ffc_0000;
/// `SECCOMP_RET_ALLOW`.
pub const RET_ALLOW: u32 = 0x7fff_0000;

/// What a foreign architecture or an x32 call gets.
pub const RET_BAD_ARCH: u32 = RET_KILL_PROCESS;

/// The errno of `SCMP_ACT_ERRNO` (and value of `SCMP_ACT_TRACE`) without
/// `errnoRet`, as runc does.
const EPERM: u32 = 1;

/// More argument conditions than this in one rule could not be jumped over
/// with classic BPF's 8-bit conditional offsets.
const MAX_CONDS: usize = 40;

/// A compiled filter: the BPF program and the seccomp(2) flags to load it
/// with. Built by [`compile`], installed by [`super::load()`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    program: Vec<SockFilter>,
    flags: u32,
}

impl Filter {
    /// The BPF instructions.
    pub fn program(&self) -> &[SockFilter] {
        &self.program
    }

    /// The `SECCOMP_FILTER_FLAG_*` bits.
    pub fn flags(&self) -> u32 {
        self.flags
    }
}

#[derive(Debug, Clone)]
struct Rule {
    conds: Vec<ArgCond>,
    action: u32,
}

/// Compiles `linux.seccomp` into a filter for the native architecture.
///
/// Syscall names this architecture does not have are skipped, as runc
/// does; an unsupported action (`SCMP_ACT_NOTIFY`), an argument index past
/// 5 or an errno above 65535 is an error naming the syscall.
pub fn compile(seccomp: &LinuxSeccomp) -> Result<Filter, SeccompError> {
    compile_for(arch::native()?, seccomp)
}

/// Compiles `seccomp` for `arch` (any of [`arch::X86_64`],
/// [`arch::AARCH64`]).
pub fn compile_for(arch: &ArchInfo, seccomp: &LinuxSeccomp) -> Result<Filter, SeccompError> {
    let default = action_value(
        seccomp.default_action(),
        seccomp.default_errno_ret(),
        || "defaultAction".into(),
    )?;
    let flags = flags::bits(seccomp.flags().as_deref().unwrap_or_default());
    let mut by_nr: BTreeMap<u32, Vec<Rule>> = BTreeMap::new();
    for sc in seccomp.syscalls().iter().flatten() {
        let rule = rule(sc)?;
        for name in sc.names() {
            if let Some(nr) = syscalls::lookup(arch.table, name) {
                by_nr.entry(nr).or_default().push(rule.clone());
            }
        }
    }
    for rules in by_nr.values_mut() {
        // Conditional rules first, spec order kept (the sort is stable);
        // nothing after the first unconditional rule can match; trailing
        // rules that return the default change nothing.
        rules.sort_by_key(|r| r.conds.is_empty());
        if let Some(i) = rules.iter().position(|r| r.conds.is_empty()) {
            rules.truncate(i + 1);
        }
        while rules.last().is_some_and(|r| r.action == default) {
            rules.pop();
        }
    }
    by_nr.retain(|_, rules| !rules.is_empty());
    let entries: Vec<(u32, Vec<Rule>)> = by_nr.into_iter().collect();

    let mut asm = Asm::default();
    let native = asm.label();
    asm.load(4);
    asm.jump(
        Cond::Eq,
        arch.audit_arch,
        Target::Label(native),
        Target::Next,
    );
    asm.ret(RET_BAD_ARCH);
    asm.bind(native);
    asm.load(0);
    if let Some(bit) = arch.abi_bit {
        let dispatch = asm.label();
        asm.jump(Cond::Ge, bit, Target::Next, Target::Label(dispatch));
        asm.jump(Cond::Eq, u32::MAX, Target::Label(dispatch), Target::Next);
        asm.ret(RET_BAD_ARCH);
        asm.bind(dispatch);
    }
    emit_tree(&mut asm, &entries, default);
    let program = asm.finish(|| "the filter".into())?;
    Ok(Filter { program, flags })
}

/// The checked rule of one `syscalls` entry.
fn rule(sc: &LinuxSyscall) -> Result<Rule, SeccompError> {
    let what = || format!("syscall {}", sc.names().join(","));
    let action = action_value(sc.action(), sc.errno_ret(), what)?;
    let mut conds = Vec::new();
    for a in sc.args().iter().flatten() {
        let index = u8::try_from(a.index())
            .ok()
            .filter(|i| *i <= 5)
            .ok_or_else(|| SeccompError::ArgumentIndex {
                syscall: sc.names().join(","),
                index: a.index(),
            })?;
        conds.push(ArgCond {
            index,
            op: a.op(),
            value: a.value(),
            value_two: a.value_two().unwrap_or(0),
        });
    }
    if conds.len() > MAX_CONDS {
        return Err(SeccompError::TooComplex(sc.names().join(",")));
    }
    Ok(Rule { conds, action })
}

/// The `SECCOMP_RET_*` value of an action; `errno_ret` (default EPERM) is
/// the errno of `SCMP_ACT_ERRNO` and the tracer's value of `SCMP_ACT_TRACE`.
pub fn action_value(
    action: Action,
    errno_ret: Option<u32>,
    context: impl Fn() -> String,
) -> Result<u32, SeccompError> {
    let data = || match errno_ret.unwrap_or(EPERM) {
        v if v <= 0xffff => Ok(v),
        value => Err(SeccompError::ErrnoOutOfRange {
            value,
            context: context(),
        }),
    };
    Ok(match action {
        Action::ScmpActKill | Action::ScmpActKillThread => RET_KILL_THREAD,
        Action::ScmpActKillProcess => RET_KILL_PROCESS,
        Action::ScmpActTrap => RET_TRAP,
        Action::ScmpActErrno => RET_ERRNO | data()?,
        Action::ScmpActTrace => RET_TRACE | data()?,
        Action::ScmpActLog => RET_LOG,
        Action::ScmpActAllow => RET_ALLOW,
        Action::ScmpActNotify => {
            return Err(SeccompError::UnsupportedAction {
                action: "SCMP_ACT_NOTIFY".into(),
                context: context(),
            })
        }
    })
}

/// Syscalls per leaf of the search tree, tested one after the other.
const LEAF: usize = 4;

/// A binary search over `entries` (sorted by number); the accumulator holds
/// the syscall number throughout (every block ends in a return).
fn emit_tree(asm: &mut Asm, entries: &[(u32, Vec<Rule>)], default: u32) {
    if entries.len() <= LEAF {
        for (nr, rules) in entries {
            let skip = asm.label();
            if let [only] = rules.as_slice() {
                if only.conds.is_empty() {
                    asm.jump(Cond::Eq, *nr, Target::Next, Target::Label(skip));
                    asm.ret(only.action);
                    asm.bind(skip);
                    continue;
                }
            }
            let body = asm.label();
            asm.jump(Cond::Eq, *nr, Target::Label(body), Target::Next);
            asm.ja(skip);
            asm.bind(body);
            emit_rules(asm, rules, default);
            asm.bind(skip);
        }
        asm.ret(default);
        return;
    }
    let mid = entries.len() / 2;
    let (left, right) = (asm.label(), asm.label());
    asm.jump(Cond::Ge, entries[mid].0, Target::Next, Target::Label(left));
    asm.ja(right);
    asm.bind(left);
    emit_tree(asm, &entries[..mid], default);
    asm.bind(right);
    emit_tree(asm, &entries[mid..], default);
}

/// One syscall's rules, then the default action.
fn emit_rules(asm: &mut Asm, rules: &[Rule], default: u32) {
    for rule in rules {
        let next = asm.label();
        for cond in &rule.conds {
            args::emit(asm, cond, next);
        }
        asm.ret(rule.action);
        asm.bind(next);
    }
    asm.ret(default);
}

#[cfg(test)]
#[path = "compile_tests.rs"]
mod tests;
