# Verify the DKIM signatures of the message on standard input with Mail::DKIM (Debian's
# libmail-dkim-perl), an implementation independent of ours and of dkimpy. Offline:
# the key records come from environment variables DKIM_TXT_<selector>._domainkey.<domain>.
# Prints one line per signature: algorithm, result, detail.
use strict;
use warnings;
use Mail::DKIM::Verifier;
use Net::DNS;

{
    no warnings 'redefine';
    *Mail::DKIM::DNS::query = sub {
        my ($name, $type) = @_;
        my $record = $ENV{"DKIM_TXT_$name"} or return;
        return Net::DNS::RR->new(
            name => $name, type => 'TXT', txtdata => [ unpack '(A255)*', $record ]
        );
    };
}
my $verifier = Mail::DKIM::Verifier->new;
binmode STDIN;
while (<STDIN>) {
    s/\r?\n\z/\r\n/;
    $verifier->PRINT($_);
}
$verifier->CLOSE;
for my $signature ($verifier->signatures) {
    printf "%s %s %s\n", $signature->algorithm, $signature->result,
        $signature->result_detail;
}
