//! Device rules on cgroup v2: a BPF_PROG_TYPE_CGROUP_DEVICE program built
//! instruction by instruction. The kernel passes `struct bpf_cgroup_dev_ctx
//! { u32 access_type; u32 major; u32 minor; }` with access_type =
//! (ACC_* bits << 16) | (BPF_DEVCG_DEV_BLOCK 1 / _CHAR 2); the program
//! returns 1 to allow and 0 to deny. Rules are checked from the last to the
//! first and the first that matches decides (the last matching rule wins);
//! an allow rule matches when it covers every requested access bit, a deny
//! rule when it covers any of them.

use super::device_rules::{effective, Kind, Rule, ACC_ALL};

/// One eBPF instruction, as `struct bpf_insn` lays it out.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    /// Opcode.
    pub code: u8,
    /// dst_reg in the low nibble, src_reg in the high one.
    pub regs: u8,
    /// Signed offset (jumps: instructions to skip).
    pub off: i16,
    /// Signed immediate.
    pub imm: i32,
}

// Opcode parts (linux/bpf_common.h, linux/bpf.h).
const LDX: u8 = 0x01;
const ALU: u8 = 0x04;
const JMP: u8 = 0x05;
const JMP32: u8 = 0x06;
const ALU64: u8 = 0x07;
const W: u8 = 0x00;
const MEM: u8 = 0x60;
const K: u8 = 0x00;
const X: u8 = 0x08;
const AND: u8 = 0x50;
const RSH: u8 = 0x70;
const MOV: u8 = 0xb0;
const JEQ: u8 = 0x10;
const JNE: u8 = 0x50;
const EXIT: u8 = 0x90;

const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (dst & 0xf) | (src << 4),
        off,
        imm,
    }
}

/// `dst = *(u32 *)(src + off)`
fn load_word(dst: u8, src: u8, off: i16) -> Insn {
    insn(LDX | MEM | W, dst, src, off, 0)
}

/// A conditional 32-bit jump to the end of the current block, patched later.
fn jump_out(op: u8, reg: u8, imm: i32) -> Insn {
    insn(JMP32 | op | K, reg, 0, i16::MAX, imm)
}

/// `r0 = verdict; exit`
fn verdict(allow: bool) -> [Insn; 2] {
    [
        insn(ALU64 | MOV | K, 0, 0, 0, i32::from(allow)),
        insn(JMP | EXIT, 0, 0, 0, 0),
    ]
}

/// The instructions testing one rule: falls through to its verdict when it
/// matches, jumps past the block otherwise. Registers: r2 type, r3 access,
/// r4 major, r5 minor, r1 scratch.
fn rule_block(r: &Rule) -> Vec<Insn> {
    let mut b = Vec::new();
    match r.kind {
        Kind::Char => b.push(jump_out(JNE, 2, DEV_CHAR)),
        Kind::Block => b.push(jump_out(JNE, 2, DEV_BLOCK)),
        Kind::All => {}
    }
    if r.allow && r.access != ACC_ALL {
        // Some requested bit outside the rule: no match.
        b.push(insn(ALU | MOV | X, 1, 3, 0, 0));
        b.push(insn(ALU | AND | K, 1, 0, 0, i32::from(!r.access & ACC_ALL)));
        b.push(jump_out(JNE, 1, 0));
    } else if !r.allow && r.access != ACC_ALL {
        // No requested bit in the rule: no match.
        b.push(insn(ALU | MOV | X, 1, 3, 0, 0));
        b.push(insn(ALU | AND | K, 1, 0, 0, i32::from(r.access)));
        b.push(jump_out(JEQ, 1, 0));
    }
    if let Some(m) = r.major {
        b.push(jump_out(JNE, 4, m as i32));
    }
    if let Some(m) = r.minor {
        b.push(jump_out(JNE, 5, m as i32));
    }
    b.extend(verdict(r.allow));
    let len = b.len();
    for (i, ins) in b.iter_mut().enumerate() {
        if ins.off == i16::MAX {
            ins.off = (len - i - 1) as i16;
        }
    }
    b
}

/// The whole program for `rules` (the effective list of
/// [`super::device_rules::rules`]).
pub fn program(rules: &[Rule]) -> Vec<Insn> {
    let (default_allow, rest) = effective(rules);
    let mut p = vec![
        load_word(2, 1, 0),
        insn(ALU64 | MOV | X, 3, 2, 0, 0),
        insn(ALU | RSH | K, 3, 0, 0, 16),
        insn(ALU | AND | K, 2, 0, 0, 0xffff),
        load_word(4, 1, 4),
        load_word(5, 1, 8),
    ];
    // An access request with no bit a rule could name never matches a deny
    // rule; a rule with no access bits never allows.
    for r in rest.iter().rev().filter(|r| r.access != 0) {
        p.extend(rule_block(r));
    }
    p.extend(verdict(default_allow));
    p
}

/// A small interpreter of the programs [`program`] emits, for unit tests:
/// returns the verdict for a request.
#[cfg(test)]
pub fn run(p: &[Insn], kind: i32, access: u32, major: u32, minor: u32) -> bool {
    let mut r = [0u64; 11];
    let ctx = [(access << 16) | kind as u32, major, minor];
    let mut pc = 0usize;
    loop {
        let i = p[pc];
        let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
        pc += 1;
        match i.code {
            c if c == LDX | MEM | W => r[dst] = u64::from(ctx[(i.off / 4) as usize]),
            c if c == ALU64 | MOV | X => r[dst] = r[src],
            c if c == ALU64 | MOV | K => r[dst] = i.imm as i64 as u64,
            c if c == ALU | MOV | X => r[dst] = r[src] & 0xffff_ffff,
            c if c == ALU | RSH | K => r[dst] = (r[dst] & 0xffff_ffff) >> i.imm,
            c if c == ALU | AND | K => r[dst] = (r[dst] & 0xffff_ffff) & (i.imm as u32 as u64),
            c if c == JMP32 | JNE | K => {
                if r[dst] as u32 != i.imm as u32 {
                    pc += i.off as usize;
                }
            }
            c if c == JMP32 | JEQ | K => {
                if r[dst] as u32 == i.imm as u32 {
                    pc += i.off as usize;
                }
            }
            c if c == JMP | EXIT => return r[0] == 1,
            c => panic!("unknown opcode {c:#x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::device_rules::{rules, ACC_MKNOD, ACC_READ, ACC_WRITE};
    use super::*;
    use oci_spec::runtime::LinuxDeviceCgroup;

    fn spec(json: &str) -> Vec<LinuxDeviceCgroup> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn default_deny_allows_the_defaults_and_listed_rules() {
        let r = rules(Some(&spec(
            r#"[{"allow": false, "access": "rwm"},
                {"allow": true, "type": "b", "major": 8, "minor": 0, "access": "r"}]"#,
        )))
        .unwrap();
        let p = program(&r);
        let rw = u32::from(ACC_READ | ACC_WRITE);
        assert!(run(&p, DEV_CHAR, rw, 1, 3), "/dev/null");
        assert!(run(&p, DEV_CHAR, rw, 136, 4), "a pty");
        assert!(!run(&p, DEV_CHAR, rw, 42, 0), "an unlisted char device");
        assert!(run(&p, DEV_CHAR, u32::from(ACC_MKNOD), 42, 0), "mknod");
        assert!(run(&p, DEV_BLOCK, u32::from(ACC_READ), 8, 0), "sda read");
        assert!(!run(&p, DEV_BLOCK, rw, 8, 0), "sda write");
        assert!(!run(&p, DEV_BLOCK, u32::from(ACC_READ), 8, 1), "sda1");
    }

    #[test]
    fn the_last_matching_rule_wins() {
        let r = rules(Some(&spec(
            r#"[{"allow": true, "access": "rwm"},
                {"allow": false, "type": "c", "major": 42, "access": "w"},
                {"allow": true, "type": "c", "major": 42, "minor": 1, "access": "rw"}]"#,
        )))
        .unwrap();
        let p = program(&r);
        let (rd, wr) = (u32::from(ACC_READ), u32::from(ACC_WRITE));
        assert!(run(&p, DEV_BLOCK, rd | wr, 7, 0), "allow-all");
        assert!(run(&p, DEV_CHAR, rd, 42, 0), "deny w leaves r");
        assert!(!run(&p, DEV_CHAR, rd | wr, 42, 0), "deny w covers rw");
        assert!(run(&p, DEV_CHAR, rd | wr, 42, 1), "later allow wins");
    }
}
