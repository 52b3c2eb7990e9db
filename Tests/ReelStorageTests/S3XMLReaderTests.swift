import Foundation
import Testing

@testable import ReelStorage

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// `S3XML` reads S3's answers without Foundation's `XMLParser`; on the documents S3, STS and moto send, and on
/// the XML constructs they may hold, it builds the tree `XMLParser` reports.
@Suite("S3 XML")
struct S3XMLReaderTests {
    /// The tree as `XMLParser` reports it, built the way `S3XML` used to.
    final class Reference: NSObject, XMLParserDelegate {
        var stack: [S3XML] = []
        var root: S3XML?

        static func parse(_ text: String) -> S3XML? {
            let builder = Reference()
            let parser = XMLParser(data: Data(text.utf8))
            parser.delegate = builder
            return parser.parse() ? builder.root : nil
        }

        func parser(
            _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            stack.append(S3XML(name: elementName.split(separator: ":").last.map(String.init)!, text: "", children: []))
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            if !stack.isEmpty { stack[stack.count - 1].text += string }
        }

        func parser(_ parser: XMLParser, foundCDATA block: Data) {
            if !stack.isEmpty { stack[stack.count - 1].text += String(decoding: block, as: UTF8.self) }
        }

        func parser(
            _ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?
        ) {
            guard var element = stack.popLast() else { return }
            if !element.children.isEmpty { element.text = "" }
            if stack.isEmpty { root = element } else { stack[stack.count - 1].children.append(element) }
        }
    }

    static let documents = [
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>\
        <Key>jobs/a &amp; b/&lt;1&gt;.mp4</Key><RequestId>4442587FB7D0A2F9</RequestId></Error>
        """,
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
          <Name>reel</Name><Prefix>jobs/</Prefix><KeyCount>2</KeyCount><IsTruncated>true</IsTruncated>
          <Contents><Key>jobs/1/chunk-&#48;.mp4</Key><Size>1024</Size><ETag>&quot;abc&quot;</ETag></Contents>
          <Contents><Key>jobs/1/caf&#xE9;.json</Key><Size>0</Size><StorageClass/></Contents>
          <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
        </ListBucketResult>
        """,
        """
        <InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>b</Bucket>\
        <Key>k</Key><UploadId>VXBsb2FkIElE</UploadId></InitiateMultipartUploadResult>
        """,
        """
        <AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
          <!-- a comment -->
          <AssumeRoleWithWebIdentityResult>
            <Credentials><AccessKeyId>ASgeIAIOSFODNN7EXAMPLE</AccessKeyId>\
        <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>\
        <SessionToken><![CDATA[tok<en>&]]></SessionToken><Expiration>2026-12-02T09:00:00Z</Expiration></Credentials>
          </AssumeRoleWithWebIdentityResult>
        </AssumeRoleWithWebIdentityResponse>
        """,
        "<a:Root xmlns:a='urn:x' attr=\"x > y\"><a:Child k='v'>text</a:Child><Empty /></a:Root>",
    ]

    @Test func readsWhatXMLParserReads() throws {
        for document in Self.documents {
            let reference = try #require(Reference.parse(document), "\(document)")
            let read = try #require(S3XML.parse(Data(document.utf8)), "\(document)")
            #expect(read == reference, "\(document)")
        }
        let listing = try #require(S3XML.parse(Data(Self.documents[1].utf8)))
        #expect(listing.all("Contents").compactMap { $0.text("Key") } == ["jobs/1/chunk-0.mp4", "jobs/1/café.json"])
        #expect(listing.first("ETag")?.text == "\"abc\"")
    }

    @Test func refusesWhatIsNotWellFormed() {
        for text in [
            "", "   ", "not xml", "<a>", "<a></b>", "<a><b></a></b>", "<a>x</a>trailing", "<a/><b/>", "<a>&bogus;</a>",
            "<a>&amp</a>", "<a><!-- open</a>", "<a><![CDATA[x</a>", "<?xml version='1.0'",
        ] {
            #expect(S3XML.parse(Data(text.utf8)) == nil, "\(text)")
        }
    }
}
