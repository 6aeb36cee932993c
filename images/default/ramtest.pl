#!/usr/bin/perl
# RAM integrity workload (qtest's idea): one byte in every page of a pinned buffer is
# incremented pass after pass, at a chosen rate. At any instant the pages hold v+1 up to the
# writer's position and v after it: one boundary. A stale or lost page shows as another.
# The physical frame of every page is written to a map so the host checks a memory dump.
#   ramtest.pl <MiB> <MiB/s, 0 = unthrottled> <dir>
use strict;
use warnings;
# No Time::HiRes: loading it took about 0.2 s of every start in a TCG guest. The clock and the
# sleep are the kernel's own, through syscall() and select().

my ($mib, $rate, $dir) = @ARGV;
my $PAGE = 4096;
my $size = $mib * 1024 * 1024 + $PAGE;
# Non-zero from the start: every page is a data page for QEMU (no zero-page shortcut). Grown in
# place (x=): `"\x01" x $size` builds the string and then copies it, touching twice the pages.
my $buf = "\x01";
$buf x= $size;
my $addr = unpack('J', pack('p', $buf));
my $first = (-$addr) % $PAGE;    # offset of the first page-aligned byte
my $pages = int(($size - $first) / $PAGE);

# System call numbers differ by arch.
chomp(my $machine = `uname -m`);
my %MLOCKALL = (x86_64 => 151, aarch64 => 230);
my %CLOCK_GETTIME = (x86_64 => 228, aarch64 => 113);
die "ramtest: unknown machine '$machine'" unless exists $MLOCKALL{$machine};

# CLOCK_MONOTONIC, in seconds.
sub now {
  my $ts = "\0" x 16;
  syscall($CLOCK_GETTIME{$machine}, 1, $ts) == 0 or die "ramtest: clock_gettime: $!";
  my ($s, $ns) = unpack('q q', $ts);
  return $s + $ns / 1e9;
}

# Pin: mlockall(MCL_CURRENT|MCL_FUTURE).
syscall($MLOCKALL{$machine}, 3) == 0 or die "ramtest: mlockall: $!";

sub pfn_map {
  # One read of the pagemap entries of the whole buffer (one syscall per page is slow under TCG).
  open(my $pm, '<', '/proc/self/pagemap') or die "ramtest: pagemap: $!";
  my $firstpage = int(($addr + $first) / $PAGE);
  sysseek($pm, $firstpage * 8, 0) or die "ramtest: seek: $!";
  my $want = $pages * 8;
  my $raw = '';
  while (length($raw) < $want) {
    my $n = sysread($pm, $raw, $want - length($raw), length($raw));
    die "ramtest: read pagemap: $!" unless $n;
  }
  close $pm;
  my @pfns;
  my $i = 0;
  for my $q (unpack('Q<*', $raw)) {
    die "ramtest: page $i not present" unless ($q >> 63) & 1;
    push @pfns, sprintf('%x', $q & ((1 << 55) - 1));
    $i++;
  }
  return join(' ', @pfns);
}

sub write_file {
  my ($name, $text) = @_;
  open(my $f, '>', "$dir/$name.tmp") or die "ramtest: $name: $!";
  print $f $text;
  close $f;
  rename("$dir/$name.tmp", "$dir/$name") or die "ramtest: rename $name: $!";
}

my $remap = 0;
$SIG{USR1} = sub { $remap = 1 };
write_file('ram.map', "pages $pages\npfns " . pfn_map() . "\n");
write_file('ram.pid', "$$\n");
write_file('ram.status', "pass 0\n");

my $chunk = 64;    # pages between rate checks
my $start = now();
my $done = 0;      # pages written since start, for the rate
my $pass = 0;
while (1) {
  for (my $i = 0; $i < $pages; $i++) {
    my $off = $first + $i * $PAGE;
    vec($buf, $off, 8) = (vec($buf, $off, 8) + 1) & 255;
    if ((++$done % $chunk) == 0) {
      if ($rate > 0) {
        my $ahead = $done / ($rate * 256) - (now() - $start);
        select(undef, undef, undef, $ahead) if $ahead > 0;
      }
      # A remap request is answered within a chunk, not at the end of a (slow) pass.
      if ($remap) {
        $remap = 0;
        write_file('ram.map2', "pages $pages\npfns " . pfn_map() . "\n");
      }
    }
  }
  $pass++;
  write_file('ram.status', "pass $pass\n");
}
