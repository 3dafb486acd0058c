#!/usr/bin/perl
# Prints SpamAssassin's own view of each message given on the command line,
# one JSON object per line: the file, the body text array (as body rules see
# it) and the URI list. Network tests are off and no user preferences load.
# Compared with Ringmail's view by tests/spam/compare_prepare.py.
use strict;
use warnings;
use JSON::PP;
use Mail::SpamAssassin;

my $spamassassin = Mail::SpamAssassin->new({
    local_tests_only => 1,
    dont_copy_prefs  => 1,
    username         => 'nobody',
    userprefs_filename => '/dev/null',
});
$spamassassin->init(0);
my $json = JSON::PP->new->canonical->utf8(0);
binmode(STDOUT, ":encoding(UTF-8)");

for my $path (@ARGV) {
    open(my $handle, '<:raw', $path) or die "cannot open $path: $!";
    my $text = do { local $/; <$handle> };
    close($handle);
    my $message = $spamassassin->parse($text, 1);
    my $status = Mail::SpamAssassin::PerMsgStatus->new($spamassassin, $message);
    my @body = map { my $line = $_; utf8::decode($line); $line }
        @{ $status->get_decoded_stripped_body_text_array() };
    my @uris = sort $status->get_uri_list();
    print $json->encode({ file => $path, body => \@body, uris => \@uris }), "\n";
    $status->finish();
    $message->finish();
}
