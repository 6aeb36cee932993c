#!/usr/bin/perl
# Heartbeat: a strictly increasing counter and the guest clocks every ~15 ms on a dedicated
# port. The host timestamps each line; a restart of the counter means the guest was reset.
use strict;
use warnings;
use Time::HiRes qw(clock_gettime CLOCK_MONOTONIC CLOCK_REALTIME usleep);

open(my $out, '>', $ARGV[0]) or die "heartbeat: cannot open $ARGV[0]: $!";
select($out);
$| = 1;
my $boot = '?';
if (open(my $b, '<', '/proc/sys/kernel/random/boot_id')) { $boot = <$b>; chomp $boot; close $b; }
printf "READY boot=%s\n", $boot;
my $n = 0;
while (1) {
  $n++;
  printf "HB %d %.6f %.6f\n", $n, clock_gettime(CLOCK_MONOTONIC), clock_gettime(CLOCK_REALTIME);
  usleep(15000);
}
