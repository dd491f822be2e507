/* edgeq's instruction counter: a QEMU TCG plugin (plugin API version 1, QEMU 7.2).
 *
 * Debian ships no qemu-plugin.h, so the few API functions used here are declared below, exactly
 * as QEMU's public header declares them. edgeq compiles this file with the host gcc on first use.
 *
 * Every executed instruction is counted by its mnemonic (read from QEMU's disassembler when a
 * block is translated, then counted with inline adds, so counting costs little at run time).
 * Counting between markers: with begin=ADDR,end=ADDR the counts are snapshotted whenever the
 * guest enters the code at those addresses (bare-metal firmware calls two empty functions
 * around each inference); with marker_syscall=N, whenever the guest makes syscall N with
 * first argument -1 and second argument 0xED6E0001 (begin) or 0xED6E0002 (end) (user mode).
 * At exit, out=PATH receives lines "total N", then for each section "section N", then
 * "mnemonic COUNT_IN_ALL_SECTIONS TOTAL_COUNT" for each mnemonic seen.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
typedef struct {
  const char *target_name;
  struct { int min; int cur; } version;
  bool system_emulation;
  union { struct { int smp_vcpus; int max_vcpus; } system; };
} qemu_info_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_syscall_cb_t)(qemu_plugin_id_t id, unsigned int vcpu_index, int64_t num,
                                              uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                                              uint64_t a5, uint64_t a6, uint64_t a7, uint64_t a8);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, qemu_plugin_vcpu_udata_cb_t cb,
                                          enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op,
                                              void *ptr, uint64_t imm);
void qemu_plugin_register_vcpu_syscall_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_syscall_cb_t cb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
char *qemu_plugin_insn_disas(const struct qemu_plugin_insn *insn);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

#define MAX_MNEMONICS 1024
#define MNEMONIC_CHARS 16
#define BEGIN_MAGIC 0xED6E0001u
#define END_MAGIC 0xED6E0002u

static char mnemonics[MAX_MNEMONICS][MNEMONIC_CHARS];
static int mnemonic_count;
static uint64_t counts[MAX_MNEMONICS];   /* everything executed, by mnemonic */
static uint64_t at_begin[MAX_MNEMONICS]; /* snapshot at the last begin marker */
static uint64_t inside[MAX_MNEMONICS];   /* summed over completed sections */
static uint64_t sections[4096];
static int section_count;
static bool open_section;
static uint64_t begin_addr = UINT64_MAX, end_addr = UINT64_MAX;
static int64_t marker_syscall = -1;
static char out_path[4096];

static int intern(const char *text) {
  char word[MNEMONIC_CHARS];
  size_t n = 0;
  int i;
  while (text != NULL && *text == ' ') ++text;
  while (text != NULL && text[n] != '\0' && text[n] != ' ' && text[n] != '\t' && n + 1 < sizeof word) {
    word[n] = text[n];
    ++n;
  }
  if (n == 0) memcpy(word, "?", 2), n = 1;
  word[n] = '\0';
  for (i = 0; i < mnemonic_count; ++i)
    if (strcmp(mnemonics[i], word) == 0) return i;
  if (mnemonic_count == MAX_MNEMONICS) return MAX_MNEMONICS - 1; /* the last slot takes the rest */
  memcpy(mnemonics[mnemonic_count], word, n + 1);
  return mnemonic_count++;
}

static void begin_section(void) {
  memcpy(at_begin, counts, sizeof counts);
  open_section = true;
}

static void end_section(void) {
  uint64_t total = 0;
  int i;
  if (!open_section) return;
  for (i = 0; i < mnemonic_count; ++i) {
    total += counts[i] - at_begin[i];
    inside[i] += counts[i] - at_begin[i];
  }
  if (section_count < (int)(sizeof sections / sizeof sections[0])) sections[section_count++] = total;
  open_section = false;
}

static void on_marker(unsigned int vcpu_index, void *userdata) {
  (void)vcpu_index;
  if (userdata != NULL) begin_section(); else end_section();
}

static void on_syscall(qemu_plugin_id_t id, unsigned int vcpu_index, int64_t num, uint64_t a1, uint64_t a2,
                       uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6, uint64_t a7, uint64_t a8) {
  (void)id, (void)vcpu_index, (void)a3, (void)a4, (void)a5, (void)a6, (void)a7, (void)a8;
  if (num != marker_syscall || a1 != UINT64_MAX) return;
  if ((uint32_t)a2 == BEGIN_MAGIC) begin_section();
  if ((uint32_t)a2 == END_MAGIC) end_section();
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
  size_t n = qemu_plugin_tb_n_insns(tb), i;
  uint64_t local[MAX_MNEMONICS];
  int used[MAX_MNEMONICS], used_count = 0, k;
  uint64_t pc = qemu_plugin_tb_vaddr(tb);
  (void)id;
  if (pc == begin_addr) qemu_plugin_register_vcpu_tb_exec_cb(tb, on_marker, QEMU_PLUGIN_CB_NO_REGS, &begin_addr);
  if (pc == end_addr) qemu_plugin_register_vcpu_tb_exec_cb(tb, on_marker, QEMU_PLUGIN_CB_NO_REGS, NULL);
  for (i = 0; i < n; ++i) {
    char *text = qemu_plugin_insn_disas(qemu_plugin_tb_get_insn(tb, i));
    int index = intern(text);
    free(text);
    for (k = 0; k < used_count && used[k] != index; ++k) {
    }
    if (k == used_count) used[used_count++] = index, local[index] = 0;
    local[index] += 1;
  }
  for (k = 0; k < used_count; ++k)
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &counts[used[k]], local[used[k]]);
}

static void on_exit(qemu_plugin_id_t id, void *userdata) {
  FILE *out = fopen(out_path, "w");
  uint64_t total = 0;
  int i;
  (void)id, (void)userdata;
  if (out == NULL) return;
  for (i = 0; i < mnemonic_count; ++i) total += counts[i];
  fprintf(out, "total %" PRIu64 "\n", total);
  for (i = 0; i < section_count; ++i) fprintf(out, "section %" PRIu64 "\n", sections[i]);
  for (i = 0; i < mnemonic_count; ++i)
    fprintf(out, "mnemonic %s %" PRIu64 " %" PRIu64 "\n", mnemonics[i], inside[i], counts[i]);
  fclose(out);
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                                               int argc, char **argv) {
  int i;
  (void)info;
  for (i = 0; i < argc; ++i) {
    if (strncmp(argv[i], "begin=", 6) == 0) begin_addr = strtoull(argv[i] + 6, NULL, 0);
    else if (strncmp(argv[i], "end=", 4) == 0) end_addr = strtoull(argv[i] + 4, NULL, 0);
    else if (strncmp(argv[i], "marker_syscall=", 15) == 0) marker_syscall = strtoll(argv[i] + 15, NULL, 0);
    else if (strncmp(argv[i], "out=", 4) == 0) snprintf(out_path, sizeof out_path, "%s", argv[i] + 4);
    else return -1;
  }
  if (out_path[0] == '\0') return -1;
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
  if (marker_syscall >= 0) qemu_plugin_register_vcpu_syscall_cb(id, on_syscall);
  qemu_plugin_register_atexit_cb(id, on_exit, NULL);
  return 0;
}
