import ReelYAML

/// Applies a schema's defaults to a document the way Kubernetes' structural defaulting does: an absent or null
/// field with a default takes it, and defaults nest (an object defaulted to `{}` then gets its fields' defaults).
public enum SchemaDefaulter {
    /// `node` with every default of `schema` filled in. Call on a document that validated.
    public static func apply(_ node: YAMLNode, _ schema: Schema) -> YAMLNode {
        switch (schema.kind, node.value) {
        case (.object(let properties), .mapping(var pairs)):
            for property in properties {
                if let index = pairs.firstIndex(where: { $0.key.string == property.name }) {
                    var value = pairs[index].value
                    if value.value == .null, let defaultValue = property.schema.defaultValue {
                        value = YAMLNode(defaultValue.value, mark: value.mark)
                    }
                    pairs[index].value = apply(value, property.schema)
                } else if let defaultValue = property.schema.defaultValue {
                    let value = apply(YAMLNode(defaultValue.value, mark: node.mark), property.schema)
                    pairs.append(YAMLPair(key: YAMLNode(.string(property.name), mark: node.mark), value: value))
                }
            }
            return YAMLNode(.mapping(pairs), mark: node.mark)
        case (.array(let itemSchema), .sequence(let items)):
            return YAMLNode(.sequence(items.map { apply($0, itemSchema) }), mark: node.mark)
        case (.map(let valueSchema), .mapping(let pairs)):
            let mapped = pairs.map { YAMLPair(key: $0.key, value: apply($0.value, valueSchema)) }
            return YAMLNode(.mapping(mapped), mark: node.mark)
        default:
            return node
        }
    }
}
