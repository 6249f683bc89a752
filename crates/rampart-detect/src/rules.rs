//! Every rule the detector can report: its id, its class, the level that turns it on, and
//! what `rampart explain RULE` says about it.
//!
//! Ids are `class.name`. Config exclusions name a rule (`sqli.union_select`), a class
//! (`sqli.*`) or everything (`*`); [`matches`] is the one place that reads those patterns.

/// What family of attack a rule belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    Sqli,
    Xss,
    Cmd,
    Path,
    Ssrf,
    Nosql,
    Ssti,
    Xxe,
    Php,
    Java,
    Js,
    Ldap,
    Ssi,
    Crlf,
    Scanner,
    Graphql,
    Session,
}

impl Class {
    pub const ALL: [Class; 17] = [
        Class::Sqli,
        Class::Xss,
        Class::Cmd,
        Class::Path,
        Class::Ssrf,
        Class::Nosql,
        Class::Ssti,
        Class::Xxe,
        Class::Php,
        Class::Java,
        Class::Js,
        Class::Ldap,
        Class::Ssi,
        Class::Crlf,
        Class::Scanner,
        Class::Graphql,
        Class::Session,
    ];

    /// The id prefix, e.g. `sqli`.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Sqli => "sqli",
            Class::Xss => "xss",
            Class::Cmd => "cmd",
            Class::Path => "path",
            Class::Ssrf => "ssrf",
            Class::Nosql => "nosql",
            Class::Ssti => "ssti",
            Class::Xxe => "xxe",
            Class::Php => "php",
            Class::Java => "java",
            Class::Js => "js",
            Class::Ldap => "ldap",
            Class::Ssi => "ssi",
            Class::Crlf => "crlf",
            Class::Scanner => "scanner",
            Class::Graphql => "graphql",
            Class::Session => "session",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Class::Sqli => "SQL injection",
            Class::Xss => "cross-site scripting",
            Class::Cmd => "OS command injection",
            Class::Path => "path traversal and file inclusion",
            Class::Ssrf => "server-side request forgery",
            Class::Nosql => "NoSQL operator injection",
            Class::Ssti => "server-side template injection",
            Class::Xxe => "XML external entities",
            Class::Php => "PHP code injection",
            Class::Java => "Java injection (JNDI, runtime, expression language, deserialization)",
            Class::Js => "JavaScript runtime injection and prototype pollution",
            Class::Ldap => "LDAP filter injection",
            Class::Ssi => "server-side includes",
            Class::Crlf => "CR/LF injection into headers and mail sessions",
            Class::Scanner => "attack tools and vulnerability scanners",
            Class::Graphql => "GraphQL schema discovery",
            Class::Session => "session fixation",
        }
    }
}

/// One rule, as documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub id: &'static str,
    pub class: Class,
    /// The lowest sensitivity level (1–4) at which the rule runs.
    pub level: u8,
    /// What it detects, in a sentence or two.
    pub detects: &'static str,
    /// Ordinary input that can set it off, and how to tune it.
    pub tuning: &'static str,
}

const fn rule(
    id: &'static str,
    class: Class,
    level: u8,
    detects: &'static str,
    tuning: &'static str,
) -> Rule {
    Rule {
        id,
        class,
        level,
        detects,
        tuning,
    }
}

use Class::*;

/// The registry, in class order.
pub const RULES: &[Rule] = &[
    rule(
        "sqli.string_break_condition",
        Sqli,
        1,
        "A value that closes a SQL string literal and goes on with a boolean condition \
         (' OR 1=1, \" or \"a\"=\"a, ') OR ('x'='x), the classic authentication bypass and \
         blind-injection probe. The value is tokenized as SQL in three contexts (as is, \
         inside single quotes, inside double quotes).",
        "Free text that quotes and reasons (\"it's 'this' or 'that'\") stays under the \
         threshold on its own; a field that really holds SQL (a query console) should have \
         the rule or the class excluded for that field.",
    ),
    rule(
        "sqli.string_break_operator",
        Sqli,
        1,
        "A value that closes a SQL string literal and continues with an operator, a \
         statement separator or a keyword ('||(SELECT..., '; DROP..., ' AND SLEEP(5)).",
        "Text with an apostrophe followed by arithmetic or a SQL keyword in prose can reach \
         it; exclude it for fields that are documented to hold code.",
    ),
    rule(
        "sqli.string_break_comment",
        Sqli,
        1,
        "A value that closes a SQL string literal and comments out the rest of the query \
         (admin'--, x'#, ' /*), so that the original query's remaining conditions vanish.",
        "Rarely seen in ordinary input: an apostrophe followed by -- or #. Exclude for \
         fields that hold markdown or code snippets.",
    ),
    rule(
        "sqli.union_select",
        Sqli,
        1,
        "UNION [ALL] SELECT, including MySQL version comments (/*!UNION*/) and comment \
         blanks, the way data is read out of other tables.",
        "Only SQL text says UNION SELECT; a field that holds SQL needs an exclusion.",
    ),
    rule(
        "sqli.stacked_query",
        Sqli,
        1,
        "A statement separator followed by a second statement (; DROP TABLE, ; EXEC, \
         ; SHUTDOWN), which runs on drivers that allow several statements.",
        "Semicolon-separated prose rarely starts a SQL statement; exclude it on fields \
         holding SQL or scripts.",
    ),
    rule(
        "sqli.probe_function",
        Sqli,
        1,
        "Functions used to probe or exfiltrate blindly: time delays (SLEEP, BENCHMARK, \
         PG_SLEEP, WAITFOR DELAY), error-based extractors (EXTRACTVALUE, UPDATEXML), file \
         and system access (LOAD_FILE, INTO OUTFILE, xp_cmdshell), each called as a \
         function in a SQL context.",
        "The names are only scored when called as functions in a SQL token stream; text \
         that mentions sleep(5) in prose can set it off, exclude the field if that is normal.",
    ),
    rule(
        "sqli.number_condition",
        Sqli,
        1,
        "A numeric value followed by a boolean condition (1 OR 1=1, 5 AND 2>1), the \
         injection into an unquoted numeric parameter.",
        "Search boxes that accept boolean syntax (\"1 or 2\") can score; the score alone \
         stays under the threshold for a bare \"1 or 2\", add an exclusion if such fields \
         accept full expressions.",
    ),
    rule(
        "sqli.number_comment",
        Sqli,
        1,
        "A numeric value followed by a SQL comment that truncates the query (1--, 1#, 1/*).",
        "Identifiers like 5-- are uncommon; exclude the field if its format allows them.",
    ),
    rule(
        "sqli.constant_condition",
        Sqli,
        1,
        "A logic operator followed by a comparison of constants (AND 8=3, OR 'a'='a', \
         && COS(PI())=-1, AND ASCII(SUBSTRING(x,1,1))>64): a condition whose truth the \
         attacker chose, whatever precedes it.",
        "Text rarely compares two literals after \"and\"/\"or\"; a field holding formulas \
         or SQL needs an exclusion.",
    ),
    rule(
        "sqli.blind_extraction",
        Sqli,
        1,
        "One character of data turned into a number to be guessed bit by bit: \
         ASCII(SUBSTRING(...)), ORD(MID(...)), or a slice of a subquery \
         (SUBSTRING((SELECT ...))).",
        "Code snippets in SQL can match; exclude the field that carries them.",
    ),
    rule(
        "sqli.catalog_access",
        Sqli,
        1,
        "System catalogs that reveal the schema: information_schema, sysobjects, \
         pg_catalog, sqlite_master, mysql.user, all_tables... Blocks with a query around it \
         (SELECT, FROM, JOIN, WHERE), scores lower alone.",
        "Database tooling that names catalogs on purpose needs an exclusion.",
    ),
    rule(
        "sqli.select_from",
        Sqli,
        1,
        "A SELECT with a query's structure (a call, *, a column list or a qualified name) \
         and FROM; blocks on its own as a subquery after an opening parenthesis.",
        "Fields that accept SQL (report builders) need an exclusion.",
    ),
    rule(
        "sqli.function_call",
        Sqli,
        2,
        "At level 2: a call of one of SQL's own functions with the parenthesis right after \
         the name (CAST(, CHAR(, CONCAT(, GROUP_CONCAT(, FIND_IN_SET(, SLEEP(, LOAD_FILE(, \
         SUBSTRING(, ASCII(, JSON_EXTRACT(, PG_READ_FILE(...), alone or in any text. Prose \
         puts a blank there (Left (WA)).",
        "Fields that carry SQL or spreadsheet formulas on purpose need level 1 or an \
         exclusion.",
    ),
    rule(
        "sqli.clause",
        Sqli,
        2,
        "At level 2: two tokens only SQL puts together: ORDER BY, GROUP BY, UNION ALL, \
         INTO OUTFILE, SELECT followed by a call, a parenthesis, *, a variable, CASE, \
         DISTINCT or TOP, or a PostgreSQL cast (::int, ::jsonb).",
        "Search fields where people type SQL-like phrases (\"group by size\") need level 1 \
         or an exclusion.",
    ),
    rule(
        "sqli.logic_condition",
        Sqli,
        2,
        "At level 2: AND, OR or XOR followed by a comparison, written as a symbol, of a \
         column or constant (AND deleted = 0, OR (x=1)): the start of a chained injection.",
        "Text with formulas (\"a and b = 2\") can match; exclude such fields.",
    ),
    rule(
        "sqli.tsql_variable",
        Sqli,
        1,
        "A statement on a variable: DECLARE @s, EXEC @q, SET @x (Transact-SQL injection \
         that builds and runs a query).",
        "Never ordinary text.",
    ),
    rule(
        "xss.script_tag",
        Xss,
        1,
        "A <script> element, in any case and with any attributes, also after HTML, URL or \
         JavaScript escapes are decoded.",
        "Only markup says <script; fields that accept raw HTML (a CMS body) should be \
         excluded and sanitized by the application instead.",
    ),
    rule(
        "xss.event_handler",
        Xss,
        1,
        "An on* event handler attribute (onerror=, onload=, onmouseover=...) in a tag, or \
         injected after a broken attribute quote (\" onfocus=alert(1) autofocus=\").",
        "Text such as \"turn on=off\" does not match: the name must be a known event \
         handler followed by '='. Exclude for fields holding HTML.",
    ),
    rule(
        "xss.markup",
        Xss,
        2,
        "At level 2: a tag that loads or runs something, with attributes (<embed src=, \
         <meta http-equiv=, <link href=, <iframe src=, <form action=, <style ...>), or a \
         namespaced tag (<v:vmlframe, <x:script). Links, images and text markup do not \
         count.",
        "Fields that carry HTML on purpose (rich text) need level 1 or an exclusion, and \
         sanitizing where they are rendered.",
    ),
    rule(
        "xss.handler_attribute",
        Xss,
        2,
        "At level 2: any on<name>= after a blank, quote or slash, outside a tag (  onload=, \
         \"onzoom=): an event handler injected into an attribute, also with event names \
         not on the known list.",
        "Text with words such as \"onboard = yes\" can match; exclude such fields.",
    ),
    rule(
        "xss.script_url",
        Xss,
        1,
        "javascript:, vbscript: and livescript: URLs, with the blanks, control characters \
         and entities browsers skip taken out (java&#x09;script:); a scheme hidden that way \
         blocks whatever follows it.",
        "Plain text rarely contains \"javascript:\"; a field that documents it (a help \
         text) can be excluded.",
    ),
    rule(
        "xss.data_html",
        Xss,
        1,
        "data: URLs carrying HTML or SVG (data:text/html;base64,...), which run script in \
         the page's origin in some browsers.",
        "Image data URLs (data:image/png) do not match.",
    ),
    rule(
        "xss.active_tag",
        Xss,
        1,
        "Elements that load or run content: <iframe>, <object>, <embed>, <svg>, <math>, \
         <base>, <link>, <meta http-equiv>, <form action>, <applet> and the like.",
        "Scores below the threshold alone; together with an event handler or script URL \
         it blocks. Exclude for fields holding HTML.",
    ),
    rule(
        "xss.active_attribute",
        Xss,
        1,
        "Attributes that run or load script: srcdoc, formaction, xlink:href, \
         style=...expression, and href/src/action pointing at script URLs.",
        "Exclude for fields holding HTML.",
    ),
    rule(
        "xss.css_expression",
        Xss,
        1,
        "CSS that runs script: expression(...), behavior:url(), -moz-binding.",
        "Stylesheets sent as data (a theme editor) need an exclusion.",
    ),
    rule(
        "xss.script_sink",
        Xss,
        2,
        "At level 2: script without markup, as injected into a JavaScript context: \
         alert(, prompt(, confirm(, eval(, document.cookie, document.write, window.location, \
         String.fromCharCode, constructor chains.",
        "Level 2 only, because code snippets and technical text mention these names. Keep \
         level 1 on routes that carry code, or exclude the field.",
    ),
    rule(
        "cmd.separator_command",
        Cmd,
        1,
        "A shell separator (; | || && newline) followed by a command (cat /etc/passwd, \
         ; id, | nc host 4444, && whoami). Words that are also English (cat, ping, id) \
         count only when an argument-like continuation follows.",
        "Prose with a semicolon followed by a command-like word and a path or option can \
         score; exclude the field if it holds shell snippets.",
    ),
    rule(
        "cmd.substitution",
        Cmd,
        1,
        "Command substitution: $(command) or `command`, which shells run inside other \
         arguments.",
        "Markdown code spans in backticks can match when they start with a command name; \
         exclude fields that hold markdown.",
    ),
    rule(
        "cmd.shell_obfuscation",
        Cmd,
        1,
        "${IFS} and $IFS$ blanks, used to write commands without spaces.",
        "Never ordinary text.",
    ),
    rule(
        "cmd.shell_path",
        Cmd,
        1,
        "Paths of shells and raw sockets: /bin/sh, /bin/bash, /bin/zsh, cmd.exe, /dev/tcp/.",
        "Technical documentation can mention them; exclude the field.",
    ),
    rule(
        "path.traversal",
        Path,
        1,
        "Directory climbs (../, ..\\, encoded, doubly encoded, overlong UTF-8 and mixed \
         separators) after decoding. Two or more climbs block on their own, one scores \
         below the threshold.",
        "Relative paths in ordinary input (a file picker) can climb once; exclude the \
         field if it legitimately carries paths, and check them in the application.",
    ),
    rule(
        "path.sensitive_file",
        Path,
        1,
        "Names of files attackers read. Secrets block alone: /etc/passwd, /etc/shadow, \
         /proc/self/environ, win.ini, boot.ini, .htpasswd, .ssh/ and private keys, \
         .aws/credentials, .git/config, shell histories, .netrc, .npmrc, wp-config.php. \
         System, configuration, log and dump files score under the threshold: /etc/hosts, \
         /proc/..., /sys/class, web.config, .htaccess, .env, var/log/, debug.log, \
         *.sql.gz.",
        "Technical support text can mention them; exclude the field.",
    ),
    rule(
        "path.system_file",
        Path,
        2,
        "At level 2: the system, configuration, log and dump files of path.sensitive_file \
         block alone (/proc/..., /sys/class, /etc/hosts, .env, .docker/, debug.log, \
         backup.sql.zip).",
        "Fields that carry file paths on purpose need level 1 or an exclusion.",
    ),
    rule(
        "path.include_scheme",
        Path,
        2,
        "At level 2: the stream wrappers of path.stream_wrapper, and ftp://, ftps:// and \
         local_file: URLs, block alone.",
        "Fields that take such URLs on purpose need level 1 or an exclusion.",
    ),
    rule(
        "path.remote_include",
        Path,
        2,
        "At level 2: a value that is an http(s) or ftp(s) URL to a server-side script \
         (.php, .jsp, .asp, .cgi...) or that ends in ? (which turns what an including server \
         appends into a query string): remote file inclusion.",
        "Fields that carry links to such pages on purpose need level 1 or an exclusion.",
    ),
    rule(
        "path.hidden_file",
        Path,
        2,
        "At level 2: a hidden file or directory in the request path (/.git/, /.env, \
         /.claude/settings.json, /app/.cursor/): configuration, credentials and tool state \
         a web server should not serve. /.well-known/ is allowed.",
        "APIs that address dot-files by path (code hosting: /contents/.github/) need \
         level 1 or an exclusion on the path.",
    ),
    rule(
        "path.stream_wrapper",
        Path,
        1,
        "Stream wrappers and URL schemes that include files: php://, file://, zip://, \
         phar://, expect://, data://, jar:, gopher://.",
        "Exclude for fields that legitimately take file:// URLs.",
    ),
    rule(
        "path.nul_byte",
        Path,
        1,
        "A NUL byte (raw, %00 or \\0 escaped), which truncates file names in C-based \
         runtimes.",
        "Binary data should not travel in text fields; send it as base64.",
    ),
    rule(
        "ssrf.loopback",
        Ssrf,
        1,
        "A URL whose host is the machine itself: 127.0.0.0/8, ::1, 0.0.0.0, localhost, \
         in any notation. Checked in URL-valued parameters and bodies, not in headers \
         such as Referer.",
        "A field that legitimately points at local services (a webhook test tool) needs an \
         exclusion; the upstream must still validate destinations itself.",
    ),
    rule(
        "ssrf.metadata",
        Ssrf,
        1,
        "Cloud metadata services: 169.254.169.254, fd00:ec2::254, metadata.google.internal, \
         100.100.100.200, in any notation.",
        "Never a legitimate target from outside; do not exclude.",
    ),
    rule(
        "ssrf.link_local",
        Ssrf,
        1,
        "Link-local addresses (169.254.0.0/16, fe80::/10) as URL hosts.",
        "Rare outside infrastructure tools.",
    ),
    rule(
        "ssrf.private_network",
        Ssrf,
        1,
        "Private-network addresses (10/8, 172.16/12, 192.168/16, fc00::/7, 100.64/10) as \
         URL hosts.",
        "Internal APIs that pass internal URLs around should exclude the field.",
    ),
    rule(
        "ssrf.ip_address_url",
        Ssrf,
        2,
        "At level 2: a URL whose host is a public IP address (http://198.51.100.7/x.php, \
         http://[2001:db8::1]/), where services are named: how malware and remote \
         inclusion payloads are usually hosted.",
        "Fields that take addresses on purpose need level 1 or an exclusion.",
    ),
    rule(
        "ssrf.odd_ip_notation",
        Ssrf,
        1,
        "An IP address written in a notation used to evade filters: decimal (2130706433), \
         octal (0177.0.0.1), hexadecimal (0x7f.1), short forms (127.1), IPv4-mapped IPv6.",
        "Scores only alongside an internal target.",
    ),
    rule(
        "ssrf.dangerous_scheme",
        Ssrf,
        1,
        "URL schemes that reach other protocols through an HTTP client: gopher://, \
         dict://, ldap://, tftp://, sftp://, jar:, netdoc:.",
        "Scores below the threshold alone.",
    ),
    rule(
        "nosql.operator_key",
        Nosql,
        1,
        "MongoDB-style query operators where data is expected: a JSON key such as $ne, $gt, \
         $regex, $in, $exists, a query key such as user[$ne], or the quoted operator inside \
         a value.",
        "APIs that accept query documents on purpose need an exclusion for that field.",
    ),
    rule(
        "nosql.code_operator",
        Nosql,
        1,
        "Operators that run code on the database: $where, $function, $accumulator, \
         $expr with JavaScript.",
        "Never ordinary data; do not exclude.",
    ),
    rule(
        "nosql.shell_command",
        Nosql,
        1,
        "MongoDB shell calls on a collection (db.users.find(, db.x.drop(), \
         db.x.insert(), injected into code the database evaluates.",
        "Database tooling that passes shell commands needs an exclusion.",
    ),
    rule(
        "nosql.javascript",
        Nosql,
        1,
        "Server-side JavaScript statements in a value (var ... ; do{ } while(...), \
         function(, return, new Date(), sleep(): code injected into $where, mapReduce or \
         an eval.",
        "JavaScript shared as data needs an exclusion.",
    ),
    rule(
        "ssti.expression",
        Ssti,
        1,
        "Template expressions that compute or reach the runtime: {{7*7}}, ${...}, <%= %>, \
         #{...}, *{...}, with arithmetic, attribute chains (__class__, constructor), or \
         calls.",
        "Plain placeholders like {{name}} do not score; templates sent as data (an email \
         template editor) need an exclusion.",
    ),
    rule(
        "xxe.entity",
        Xxe,
        1,
        "An internal entity declaration (<!ENTITY name \"...\">) in XML, used for entity \
         expansion bombs.",
        "XML APIs rarely need DTDs; keep it on.",
    ),
    rule(
        "xxe.external_entity",
        Xxe,
        1,
        "An external entity (<!ENTITY name SYSTEM \"file:///etc/passwd\">) or external \
         parameter entity, which makes XML parsers read files or fetch URLs.",
        "Never ordinary data; do not exclude.",
    ),
    rule(
        "xxe.external_dtd",
        Xxe,
        1,
        "A DOCTYPE that loads an external DTD from a URL.",
        "Documents that reference public DTDs by URL score; exclude the field if they are \
         expected and the parser does not fetch DTDs.",
    ),
    rule(
        "xxe.xinclude",
        Xxe,
        1,
        "XInclude elements (xi:include), which make XML parsers include other files.",
        "Exclude only if the upstream processes XInclude on purpose.",
    ),
    rule(
        "xxe.remote_schema",
        Xxe,
        2,
        "At level 2: an xsi:schemaLocation (or noNamespaceSchemaLocation) naming a remote \
         http, https or ftp schema: a validating parser fetches it, an out-of-band probe.",
        "SOAP and other XML APIs that name their schemas need level 1 or an exclusion.",
    ),
    rule(
        "php.open_tag",
        Php,
        1,
        "A PHP opening tag (<?php, <?=, <? followed by code) or a template engine's PHP tag \
         ({php}, [php]), which PHP runs wherever the value is included or written to a file.",
        "XML declarations (<?xml version=...) do not match.",
    ),
    rule(
        "php.function_call",
        Php,
        1,
        "A PHP function that runs commands or code, touches files or decodes hidden code \
         (system, exec, eval, assert, base64_decode, file_put_contents, include...) called \
         with a code-like argument: a variable, a string, a backtick or another such call.",
        "\"the system(s) we use\" does not match: the argument must read as code.",
    ),
    rule(
        "php.function_call_any",
        Php,
        2,
        "At level 2: the functions of php.function_call called with any argument \
         (exec (blah), chr(123)), also across comments (exec //x<newline>(blah)).",
        "Technical text that shows calls (\"use exec(cmd)\") needs level 1 or an exclusion.",
    ),
    rule(
        "php.dynamic_call",
        Php,
        2,
        "At level 2: a PHP call whose function is computed, which hides its name from \
         keyword rules: variable functions ($f(...), $$f(...), @$__['o'](...)) and \
         parenthesized or quoted expressions called with a string or variable \
         ((system)('id'), \"sys\".\"tem\"('id'), {[system][0]}('id')).",
        "JavaScript or PHP code sent as data needs level 1 or an exclusion.",
    ),
    rule(
        "php.request_array",
        Php,
        1,
        "PHP's request arrays ($_GET, $_POST, $_REQUEST, $_COOKIE, $_SERVER, $GLOBALS), \
         as web shells read them. Scores below the threshold alone.",
        "PHP code shared as data (a snippet site) needs an exclusion.",
    ),
    rule(
        "php.serialized_object",
        Php,
        1,
        "A serialized PHP object (O:8:\"ClassName\":...), the input of object injection \
         through unserialize().",
        "APIs never need to accept serialized PHP objects from clients.",
    ),
    rule(
        "java.jndi_lookup",
        Java,
        1,
        "A JNDI lookup (${jndi:ldap://...}), also spelled through nested lookups \
         (${${lower:j}ndi:...}, ${::-j}): the Log4Shell attack.",
        "Never ordinary data; do not exclude.",
    ),
    rule(
        "java.deserialization_tag",
        Java,
        1,
        "YAML and XML type tags that instantiate arbitrary classes on load: !!python/object, \
         !!ruby/object, !!java..., !!javax..., tag:yaml.org,2002:python.",
        "Never needed in data from clients.",
    ),
    rule(
        "java.runtime_access",
        Java,
        1,
        "Java runtime, reflection and gadget classes in expressions: java.lang.Runtime, \
         getRuntime(), ProcessBuilder, #_memberAccess (OGNL), T(java...) (SpEL), \
         XMLDecoder, InvokerTransformer, class.module.classLoader, the commons-collections \
         functors and JDK gadget classes (TemplatesImpl, JdbcRowSetImpl), and dotted names \
         that reach the runtime from java. (java.Runtime, java.x.ProcessBuilder).",
        "Java code shared as data needs an exclusion.",
    ),
    rule(
        "java.class_name",
        Java,
        2,
        "At level 2: a class or subpackage of a Java package that runs code, reaches files, \
         sockets, naming or reflection, or links gadget chains (java.io.File, \
         java.lang.String, org.apache.commons..., com.sun..., org.omg.CORBA, \
         com.opensymphony.xwork2, ognl.Ognl), spelled as Java spells it: the type names \
         that polymorphic deserializers (Jackson @class, fastjson @type), expression \
         languages and JNDI are told to build.",
        "APIs that carry Java stack traces or source (error reporting, code review) need \
         level 1 or an exclusion on that field.",
    ),
    rule(
        "java.serialized_object",
        Java,
        1,
        "A serialized Java object (stream magic AC ED 00 05, in hex or base64: rO0AB, or \
         KztAAU and Cs7QAF after one or two other bytes), the input of deserialization \
         gadget chains.",
        "APIs never need to accept serialized Java objects from clients.",
    ),
    rule(
        "js.prototype_pollution",
        Js,
        1,
        "__proto__ as a key or in a value, and constructor[prototype] keys: changing every \
         object's prototype in JavaScript back ends.",
        "Never ordinary data.",
    ),
    rule(
        "js.runtime_access",
        Js,
        1,
        "Node.js internals reached from injected code: child_process, process.mainModule, \
         process.binding(, .constructor.constructor( sandbox escapes.",
        "JavaScript code shared as data needs an exclusion.",
    ),
    rule(
        "ldap.filter_injection",
        Ldap,
        1,
        "LDAP filter syntax injected into a value: a parenthesis broken to add a term \
         (*)(uid=*, admin)(|(a=b)), nested filter operators ((&(, (|(, (!(), and \
         extensible matches by OID (attr:2.5.13.18:=).",
        "Text with \")(\" followed by name=value is rare; exclude fields holding LDAP \
         filters on purpose.",
    ),
    rule(
        "ssi.directive",
        Ssi,
        1,
        "Server-side include directives (<!--#exec cmd=...-->, <!--#include ...-->), run by \
         servers that parse SSI in stored or reflected content.",
        "Plain HTML comments do not match.",
    ),
    rule(
        "crlf.header_injection",
        Crlf,
        1,
        "A line break followed by a header an attacker wants to set (Set-Cookie, Location, \
         Content-Length, Bcc, Cc...): response splitting and mail header injection.",
        "Multi-line text matches only when a line starts with one of those header names and \
         a colon.",
    ),
    rule(
        "crlf.mail_command",
        Crlf,
        1,
        "A line break followed by an SMTP, POP or IMAP command (RCPT TO:, QUIT, DATA on its \
         own line, a tagged A1 FETCH): commands smuggled into a mail session.",
        "Commands count only alone on their line or with their protocol's syntax.",
    ),
    rule(
        "scanner.user_agent",
        Scanner,
        1,
        "The User-Agent of an attack tool or vulnerability scanner (sqlmap, nikto, nuclei, \
         OpenVAS, ffuf, wpscan...). Read in the User-Agent header only.",
        "Exclude it (location header.user-agent) on routes your own scanners test.",
    ),
    rule(
        "graphql.introspection",
        Graphql,
        2,
        "At level 2: GraphQL introspection (__schema { ... }, __type(name: ...)), the map an \
         attacker draws of every type, field and mutation before attacking them (OWASP API \
         security: improper inventory).",
        "Development tools (GraphiQL) use introspection: keep level 1 on routes that serve \
         them, or exclude the rule where the schema is public on purpose.",
    ),
    rule(
        "cmd.separator_any_command",
        Cmd,
        2,
        "At level 2: any command name with an argument after a shell separator (;, |, &&, \
         ||, a backtick or $( ): commands not on the known lists (;c89 -wrapper..., \
         ;cd /). Line breaks and a lone & do not count.",
        "Fields that carry shell-like text (command palettes, chat about scripts) need \
         level 1 or an exclusion.",
    ),
    rule(
        "cmd.windows_for_loop",
        Cmd,
        1,
        "A cmd.exe loop: for [/d|/r|/l|/f \"options\"] %x in (set) do command.",
        "Batch script samples sent as data need an exclusion.",
    ),
    rule(
        "cmd.windows_if",
        Cmd,
        2,
        "At level 2: a cmd.exe condition then a command: if [/i] [not] a==b cmd, if x equ y \
         cmd (neq, lss, leq, gtr, geq), if exist f cmd, if defined v cmd, if errorlevel n \
         cmd.",
        "Pseudo-code with if a==b in it needs level 1 or an exclusion.",
    ),
    rule(
        "cmd.leading_command",
        Cmd,
        1,
        "A value that starts with a command and an argument (cat /etc/passwd, wget \
         http://..., ls -la), as passed whole to a shell. Scores below the threshold alone; \
         with a sensitive file or another hit it blocks.",
        "Technical text that starts with a command can score; it never blocks alone.",
    ),
    rule(
        "session.fixation",
        Session,
        1,
        "A framework's session cookie sent as a query or form parameter, or as a path \
         parameter (?PHPSESSID=..., ;jsessionid=..., ASP.NET_SessionId, connect.sid, \
         laravel_session, _app_session): a link or form that plants a session id the \
         attacker knows, to share the victim's session after login.",
        "Servers that still track sessions in URLs (URL rewriting) need an exclusion for \
         that parameter; better, move the id to a cookie.",
    ),
    rule(
        "session.id_parameter",
        Session,
        2,
        "At level 2: any query or form parameter named like a session id (sessionid, \
         session-id, zend_session_id, session_token, user_session).",
        "APIs that take a session id as a parameter on purpose (session management \
         endpoints) need an exclusion for it.",
    ),
    rule(
        "session.id_in_json",
        Session,
        2,
        "At level 2: a framework's session cookie name as a JSON key \
         ({\"jsessionid\": ...}).",
        "Exclude the key where an API exchanges framework sessions on purpose.",
    ),
    rule(
        "session.cookie_write",
        Session,
        1,
        "A value that sets a cookie from script (document.cookie = \"sid=...; expires=...\") \
         or markup (<meta http-equiv=\"Set-Cookie\">): session fixation through an \
         injection.",
        "Never ordinary data; code samples that show it need an exclusion.",
    ),
];

/// The rule with this id.
pub fn find(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// Whether an exclusion pattern (`*`, `class.*` or a rule id) covers `id`.
pub fn matches(pattern: &str, id: &str) -> bool {
    match pattern.strip_suffix(".*") {
        _ if pattern == "*" => true,
        Some(class) => id
            .strip_prefix(class)
            .is_some_and(|rest| rest.starts_with('.')),
        None => pattern == id,
    }
}

/// Whether `pattern` names anything: `*`, a class wildcard or a rule of the registry.
pub fn is_known_pattern(pattern: &str) -> bool {
    pattern == "*"
        || match pattern.strip_suffix(".*") {
            Some(class) => Class::ALL.iter().any(|c| c.as_str() == class),
            None => find(pattern).is_some(),
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every rule id a scanner can report is in the registry, so that `rampart explain`
    /// and config exclusions know it. Read from the scanners' sources, so that a new rule
    /// without an entry fails here.
    #[test]
    fn every_reported_rule_is_registered() {
        let sources = [
            include_str!("sql.rs"),
            include_str!("xss.rs"),
            include_str!("cmd.rs"),
            include_str!("path.rs"),
            include_str!("ssrf.rs"),
            include_str!("markers.rs"),
            include_str!("code.rs"),
        ];
        let mut seen = 0;
        for source in sources {
            for (i, _) in source.match_indices('"') {
                let rest = &source[i + 1..];
                let Some(end) = rest.find('"') else { continue };
                let literal = &rest[..end];
                let Some((class, name)) = literal.split_once('.') else {
                    continue;
                };
                let is_id = Class::ALL.iter().any(|c| c.as_str() == class)
                    && !name.is_empty()
                    && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
                // "cmd.exe" is a shell's name in the shell list, not a rule.
                // Nor are Java package names ("java.io").
                if is_id
                    && literal != "cmd.exe"
                    && !crate::code::JAVA_PACKAGES.contains(&literal)
                    && !source[..i].ends_with("assert")
                {
                    assert!(find(literal).is_some(), "{literal} is not registered");
                    seen += 1;
                }
            }
        }
        assert!(seen >= 30, "only {seen} rule ids found in the sources");
    }

    #[test]
    fn ids_are_unique_and_prefixed_by_their_class() {
        for (i, rule) in RULES.iter().enumerate() {
            assert!(rule.id.starts_with(&format!("{}.", rule.class.as_str())));
            assert!(
                RULES[i + 1..].iter().all(|r| r.id != rule.id),
                "{}",
                rule.id
            );
            assert!((1..=4).contains(&rule.level));
        }
    }

    #[test]
    fn patterns() {
        assert!(matches("*", "sqli.union_select"));
        assert!(matches("sqli.*", "sqli.union_select"));
        assert!(!matches("sql.*", "sqli.union_select"));
        assert!(matches("sqli.union_select", "sqli.union_select"));
        assert!(!matches("sqli.union", "sqli.union_select"));
        assert!(is_known_pattern("xss.*"));
        assert!(is_known_pattern("xss.event_handler"));
        assert!(!is_known_pattern("xss.evil"));
        assert!(!is_known_pattern("sql.*"));
    }
}
