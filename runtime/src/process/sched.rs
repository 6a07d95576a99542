//! process.ioPriority, process.scheduler and linux.personality.

use oci_spec::runtime::{
    IOPriorityClass, LinuxIOPriority, LinuxPersonality, LinuxPersonalityDomain, LinuxSchedulerFlag,
    LinuxSchedulerPolicy, Scheduler,
};

use crate::error::{Result, RuntimeError};

const IOPRIO_WHO_PROCESS: libc::c_int = 1;
const IOPRIO_CLASS_SHIFT: u32 = 13;

/// Sets the I/O scheduling class and priority (ioprio_set).
pub fn apply_io_priority(p: &LinuxIOPriority) -> Result<()> {
    let class: i64 = match p.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    let prio = p.priority();
    if !(0..=7).contains(&prio) {
        return Err(RuntimeError::Spec(format!(
            "process.ioPriority.priority {prio} is out of range 0..7"
        )));
    }
    let value = (class << IOPRIO_CLASS_SHIFT) | prio;
    // SAFETY: ioprio_set takes integer arguments only.
    let rc = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) };
    if rc < 0 {
        return Err(RuntimeError::sys(
            format!("setting ioPriority {:?} {prio}", p.class()),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

#[repr(C)]
#[derive(Default)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
}

fn policy_number(p: LinuxSchedulerPolicy) -> u32 {
    match p {
        LinuxSchedulerPolicy::SchedOther => 0,
        LinuxSchedulerPolicy::SchedFifo => 1,
        LinuxSchedulerPolicy::SchedRr => 2,
        LinuxSchedulerPolicy::SchedBatch => 3,
        LinuxSchedulerPolicy::SchedIso => 4,
        LinuxSchedulerPolicy::SchedIdle => 5,
        LinuxSchedulerPolicy::SchedDeadline => 6,
    }
}

fn flag_bit(f: LinuxSchedulerFlag) -> u64 {
    match f {
        LinuxSchedulerFlag::SchedResetOnFork => 0x01,
        LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
        LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
        LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
        LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
        LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
        LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
    }
}

/// Sets the scheduling policy and its parameters (sched_setattr).
pub fn apply_scheduler(s: &Scheduler) -> Result<()> {
    let policy = *s.policy();
    let realtime = matches!(
        policy,
        LinuxSchedulerPolicy::SchedFifo | LinuxSchedulerPolicy::SchedRr
    );
    let priority = s.priority().unwrap_or(0);
    if realtime && !(1..=99).contains(&priority) {
        return Err(RuntimeError::Spec(format!(
            "process.scheduler: {policy:?} needs a priority in 1..99, got {priority}"
        )));
    }
    if !realtime && priority != 0 {
        return Err(RuntimeError::Spec(format!(
            "process.scheduler: priority {priority} is only valid for SCHED_FIFO and SCHED_RR"
        )));
    }
    let nice = s.nice().unwrap_or(0);
    if !(-20..=19).contains(&nice) {
        return Err(RuntimeError::Spec(format!(
            "process.scheduler.nice {nice} is out of range -20..19"
        )));
    }
    let mut attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy: policy_number(policy),
        nice,
        priority: priority as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
        ..Default::default()
    };
    for f in s.flags().iter().flatten() {
        attr.flags |= flag_bit(*f);
    }
    // SAFETY: attr is a valid sched_attr of the size it declares, alive for
    // the call; pid 0 is the calling thread.
    let rc = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    if rc < 0 {
        return Err(RuntimeError::sys(
            format!("setting scheduler {policy:?} (priority {priority}, nice {nice})"),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// Sets the execution domain (LINUX or LINUX32).
pub fn apply_personality(p: &LinuxPersonality) -> Result<()> {
    if let Some(flags) = p.flags().as_ref().filter(|f| !f.is_empty()) {
        return Err(RuntimeError::Spec(format!(
            "linux.personality.flags {flags:?}: no personality flags are defined"
        )));
    }
    let domain: libc::c_ulong = match p.domain() {
        LinuxPersonalityDomain::PerLinux => 0x0000,
        LinuxPersonalityDomain::PerLinux32 => 0x0008,
    };
    // SAFETY: personality takes an integer argument only.
    if unsafe { libc::personality(domain) } < 0 {
        return Err(RuntimeError::sys(
            format!("setting personality {:?}", p.domain()),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}
