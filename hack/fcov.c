// Which functions of an executable run, in the order they first run: a one-shot breakpoint (int3) on every function
// entry, each removed when it is hit. Linux x86-64, ptrace, every thread of the program.
//
//   fcov ENTRIES OUT SECONDS -- PROGRAM [ARG]...
//
// ENTRIES: one hex offset per line, from the executable's load address, of each function entry (`readelf -sW` of a
// PIE gives them). After SECONDS, or when the program exits, OUT holds the offsets hit, first hit first, and the
// program is killed. hack/order-worker.py turns them into the link order of `reel-worker`.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { UNSET, ARMED, HIT };

static uint64_t *entries;
static unsigned char *original;
static unsigned char *state;
static size_t count;

static int ascending(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static long entry_index(uint64_t offset) {
    size_t low = 0, high = count;
    while (low < high) {
        size_t middle = (low + high) / 2;
        if (entries[middle] < offset) low = middle + 1; else high = middle;
    }
    return low < count && entries[low] == offset ? (long)low : -1;
}

static void read_entries(const char *path) {
    FILE *file = fopen(path, "r");
    if (!file) { perror(path); exit(2); }
    size_t capacity = 1 << 16;
    entries = malloc(capacity * sizeof *entries);
    unsigned long long value;
    while (fscanf(file, "%llx", &value) == 1) {
        if (count == capacity) entries = realloc(entries, (capacity *= 2) * sizeof *entries);
        entries[count++] = value;
    }
    fclose(file);
    qsort(entries, count, sizeof *entries, ascending);
    size_t unique = 0;
    for (size_t i = 0; i < count; i++)
        if (unique == 0 || entries[unique - 1] != entries[i]) entries[unique++] = entries[i];
    count = unique;
    original = malloc(count);
    state = calloc(count, 1);
}

// The address the executable's first segment (file offset 0) is mapped at.
static uint64_t load_address(pid_t pid) {
    char path[64], executable[4096], line[4096];
    snprintf(path, sizeof path, "/proc/%d/exe", pid);
    ssize_t length = readlink(path, executable, sizeof executable - 1);
    if (length <= 0) return 0;
    executable[length] = 0;
    snprintf(path, sizeof path, "/proc/%d/maps", pid);
    FILE *maps = fopen(path, "r");
    uint64_t address = 0;
    while (maps && fgets(line, sizeof line, maps)) {
        unsigned long long start, end, offset;
        char permissions[8];
        if (sscanf(line, "%llx-%llx %7s %llx", &start, &end, permissions, &offset) == 4 && offset == 0
            && strstr(line, executable)) {
            address = start;
            break;
        }
    }
    if (maps) fclose(maps);
    return address;
}

static double seconds_since(const struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 6 || strcmp(argv[4], "--") != 0) {
        fprintf(stderr, "usage: fcov ENTRIES OUT SECONDS -- PROGRAM [ARG]...\n");
        return 2;
    }
    read_entries(argv[1]);
    double limit = atof(argv[3]);
    pid_t program = fork();
    if (program == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        execv(argv[5], argv + 5);
        _exit(127);
    }
    int status;
    waitpid(program, &status, 0);  // stopped at the exec: mapped, nothing run yet
    if (!WIFSTOPPED(status)) { fprintf(stderr, "fcov: %s did not start\n", argv[5]); return 1; }
    uint64_t base = load_address(program);
    ptrace(PTRACE_SETOPTIONS, program, 0, PTRACE_O_TRACECLONE | PTRACE_O_EXITKILL);
    size_t armed = 0;
    for (size_t i = 0; i < count; i++) {
        errno = 0;
        long word = ptrace(PTRACE_PEEKTEXT, program, base + entries[i], 0);
        if (errno) continue;
        original[i] = (unsigned char)(word & 0xff);
        ptrace(PTRACE_POKETEXT, program, base + entries[i], (word & ~0xffL) | 0xcc);
        state[i] = ARMED;
        armed++;
    }
    FILE *out = fopen(argv[2], "w");
    if (!out) { perror(argv[2]); return 2; }
    fprintf(stderr, "fcov: %zu function entries armed\n", armed);
    ptrace(PTRACE_CONT, program, 0, 0);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    size_t hits = 0;
    while (seconds_since(&start) < limit) {
        pid_t thread = waitpid(-1, &status, __WALL | WNOHANG);
        if (thread == 0) { usleep(1000); continue; }
        if (thread < 0) break;
        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            if (thread == program) break;
            continue;
        }
        if (!WIFSTOPPED(status)) continue;
        int signal_number = WSTOPSIG(status);
        if (status >> 16 == PTRACE_EVENT_CLONE || signal_number == SIGSTOP) {  // a new thread, or its first stop
            ptrace(PTRACE_CONT, thread, 0, 0);
            continue;
        }
        if (signal_number == SIGTRAP) {
            struct user_regs_struct registers;
            ptrace(PTRACE_GETREGS, thread, 0, &registers);
            long i = entry_index(registers.rip - 1 - base);
            if (i >= 0) {
                if (state[i] == ARMED) {  // first hit: put the byte back and record it
                    long word = ptrace(PTRACE_PEEKTEXT, thread, base + entries[i], 0);
                    ptrace(PTRACE_POKETEXT, thread, base + entries[i], (word & ~0xffL) | original[i]);
                    state[i] = HIT;
                    hits++;
                    fprintf(out, "%llx\n", (unsigned long long)entries[i]);
                }
                // Hit, or hit by another thread before the byte went back: run the real instruction.
                registers.rip -= 1;
                ptrace(PTRACE_SETREGS, thread, 0, &registers);
                ptrace(PTRACE_CONT, thread, 0, 0);
                continue;
            }
            ptrace(PTRACE_CONT, thread, 0, 0);
            continue;
        }
        ptrace(PTRACE_CONT, thread, 0, signal_number);  // the program's own signals, delivered
    }
    fclose(out);
    fprintf(stderr, "fcov: %zu functions ran\n", hits);
    kill(program, SIGKILL);
    return 0;
}
