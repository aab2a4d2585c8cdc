/* The job of the start-latency benchmark: its first instruction reads the clock and writes it out. */
#include <stdio.h>
#include <time.h>

int main(int argc, char **argv) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (argc < 2) return 2;
    FILE *out = fopen(argv[1], "w");
    if (!out) return 3;
    fprintf(out, "%lld\n", (long long)now.tv_sec * 1000000000LL + now.tv_nsec);
    return fclose(out) == 0 ? 0 : 4;
}
