#!/usr/bin/perl
# Sends one message with BDAT through Perl's Net::SMTP, a real CHUNKING client
# (RFC 3030): EHLO, MAIL with BODY=BINARYMIME (Net::SMTP uses BDAT only for
# binary bodies), RCPT, then the message in chunks of CHUNK octets, the last
# one with BDAT LAST. Prints each step and exits non-zero on any
# refusal, so the caller sees where it stopped.
#
# Usage: bdat_send.pl PORT FROM TO MESSAGE_FILE CHUNK
use strict;
use warnings;
use Net::SMTP;

my ($port, $from, $to, $file, $chunk) = @ARGV;
die "usage: bdat_send.pl PORT FROM TO MESSAGE_FILE CHUNK\n" unless defined $chunk && $chunk > 0;

open(my $fh, '<:raw', $file) or die "cannot open $file: $!\n";
my $message = do { local $/; <$fh> };
close($fh);

my $smtp = Net::SMTP->new("127.0.0.1", Port => $port, Hello => "perl.test", Timeout => 30)
  or die "connect to 127.0.0.1:$port failed: $@\n";
# supports() returns the keyword's parameters, empty for CHUNKING, so test definedness.
defined $smtp->supports('CHUNKING') or die "server does not offer CHUNKING\n";
print "chunking offered\n";
$smtp->mail($from, Bits => 'binary') or die "MAIL refused: " . $smtp->message;
$smtp->to($to) or die "RCPT refused: " . $smtp->message;

my $offset = 0;
my $chunks = 0;
while (length($message) - $offset > $chunk) {
  $smtp->bdat(substr($message, $offset, $chunk)) && $smtp->code == 250
    or die "BDAT refused: " . $smtp->code . " " . $smtp->message;
  $offset += $chunk;
  $chunks++;
}
$smtp->bdatlast(substr($message, $offset)) && $smtp->code == 250
  or die "BDAT LAST refused: " . $smtp->code . " " . $smtp->message;
$chunks++;
print "sent in $chunks chunks: " . $smtp->code . " " . $smtp->message;
$smtp->quit;
print "bdat send passed\n";
